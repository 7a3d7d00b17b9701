/**
 * ClickHouse side of online scoring: read closed minutes of the series of
 * some shards from `span_metrics_1m`, write `anomaly_scores`.
 *
 * Shard of a series = cityHash64(tenant, kind, service, name) % {@link SHARDS},
 * computed by ClickHouse in the read, so only the series of the shards a
 * process owns leave ClickHouse. p99 comes from the minute's merged DDSketch
 * bins (sumMap; processors/sketch.ts quantileKeysSql — only the bin key
 * leaves ClickHouse), never from rescanning spans.
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { num, selectRows } from '../query-api/clickhouse.js';
import { quantileFromKey, quantileKeysSql } from '../processors/sketch.js';
import type { MinuteObs, ScoredPoint, SeriesKey, SeriesKind } from './series.js';

/** Number of shards the series are split into (fixed: anomaly_shards rows 0..63). */
export const SHARDS = 64;

/** One series-minute read back. */
export interface MinuteRow {
  shard: number;
  key: SeriesKey;
  minuteS: number;
  obs: MinuteObs;
}

interface Row {
  shard: unknown;
  tenant: string;
  m: unknown;
  service: string;
  name: string;
  n: unknown;
  errors: unknown;
  cost: unknown;
  total: unknown;
  keys: (number | string | null)[];
}

function sql(kind: SeriesKind): string {
  const nameCol = kind === 'operation' ? 'operation' : 'model';
  const modelOnly = kind === 'model' ? "AND model != ''" : '';
  return `
SELECT shard, tenant, m, service, name, n, errors, cost, zero + arraySum(mapValues(bins)) AS total,
  ${quantileKeysSql('bins', 'zero', 'total', [0.99])} AS keys
FROM (
  SELECT cityHash64(tenant, '${kind}', service, ${nameCol}) % ${SHARDS} AS shard, tenant, toUInt32(minute) AS m, service, ${nameCol} AS name,
    sum(count) AS n, sum(error_count) AS errors, sum(cost_usd) AS cost,
    sumMap(sketch_bins) AS bins, sum(sketch_zero) AS zero
  FROM {db:Identifier}.span_metrics_1m
  WHERE minute >= toDateTime({from_s:UInt32}, 'UTC') AND minute < toDateTime({to_s:UInt32}, 'UTC') ${modelOnly}
    AND shard IN {shards:Array(UInt16)}
    AND tenant NOT IN {off:Array(String)}
  GROUP BY shard, tenant, m, service, name
  HAVING n > 0
)
ORDER BY m, tenant, service, name`;
}

/**
 * Per-minute aggregates of every series of `shards` over [fromS, toS) (epoch s, whole minutes).
 * @param offTenants tenants whose scoring is switched off (left out).
 * @returns rows ordered by minute.
 * @throws VigilError as classified by query-api/clickhouse.ts (VIGIL_ERR_CLICKHOUSE_UNAVAILABLE …).
 */
export async function readMinutes(ch: ClickHouseHandle, shards: readonly number[], fromS: number, toS: number, offTenants: readonly string[]): Promise<MinuteRow[]> {
  if (shards.length === 0 || toS <= fromS) return [];
  const out: MinuteRow[] = [];
  for (const kind of ['operation', 'model'] as const) {
    const rows = await selectRows<Row>(ch, sql(kind), { from_s: fromS, to_s: toS, shards: [...shards], off: [...offTenants] });
    for (const r of rows) {
      const key = r.keys[0];
      out.push({
        shard: num(r.shard),
        key: { tenant: r.tenant, kind, service: r.service, name: r.name },
        minuteS: num(r.m),
        obs: {
          count: num(r.n),
          errors: num(r.errors),
          costUsd: Number(r.cost ?? 0),
          p99Ms: quantileFromKey(num(r.total), key === null || key === undefined ? null : Number(key)),
        },
      });
    }
  }
  return out;
}

/**
 * Insert scored points into anomaly_scores.
 * @param threshold score at which is_anomaly is 1.
 * @param token insert_deduplication_token (same token + same block = dropped replay).
 * @throws the ClickHouse client's error (callers retry on their next tick).
 */
export async function insertScores(ch: ClickHouseHandle, points: readonly ScoredPoint[], threshold: number, token: string): Promise<void> {
  if (points.length === 0) return;
  const lines = points.map((p) =>
    JSON.stringify({
      tenant: p.key.tenant,
      minute: p.minuteS,
      series_kind: p.key.kind,
      service: p.key.service,
      name: p.key.name,
      signal: p.signal,
      observed: p.observed,
      expected: p.expected,
      lower: p.lower,
      upper: p.upper,
      score: p.score,
      is_anomaly: p.score >= threshold ? 1 : 0,
      component: p.component,
    }),
  );
  await ch.insertRaw('anomaly_scores', { format: 'JSONEachRow', data: lines.join('\n') + '\n' }, { insert_deduplication_token: token });
}
