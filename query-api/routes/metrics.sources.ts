/**
 * Which stored aggregates answer a metrics request, and the SQL that reads them.
 *
 * Tables (migrations/clickhouse/0004, 0005, 0008, 0011):
 * - `span_metrics_1m` / `span_metrics_5m` / `span_metrics_1h`: per (tenant,
 *   minute | 5-minute block | hour, service, operation, model, provider):
 *   counts, tokens, cost and DDSketch bins.
 * - `span_user_costs_1m` / `span_user_costs_1h`: per (tenant, minute | hour,
 *   service, model, provider, user_id): counts, tokens and cost, no sketches.
 * - `spans`: raw spans, only for cost by user filtered by operation (the user
 *   tables have no operation column); the same sums over the same minutes.
 *
 * Tier choice ({@link planTiers}): a rollup row of width w (3600 s or 300 s)
 * can only be used when it lies wholly inside one answer bucket, i.e. when
 * `step` is a multiple of w (buckets are aligned to multiples of `step` since
 * the epoch, so they are then made of whole w-blocks). The window is covered
 * by the widest usable tier first: its whole blocks come from that table, the
 * remainders before the first / after the last whole block from the next
 * narrower tier, down to minutes. So the answer is the same as from minutes
 * alone: counts and bins are integer sums (sumMap merges DDSketches exactly),
 * cost sums may differ in the last floating-point digit (summation order).
 * The cost of a latency query follows the number of rows whose sketches are
 * merged, hence the tiers (bench/README.md, bench:query).
 */

/** Tier → table of each family (the user costs have no 5-minute tier). */
const TABLES = {
  series: { minute: 'span_metrics_1m', five: 'span_metrics_5m', hour: 'span_metrics_1h' },
  users: { minute: 'span_user_costs_1m', hour: 'span_user_costs_1h' },
} as const;

/** Aggregate family: per series (with sketches) or per user (cost only). */
export type Family = keyof typeof TABLES;

/** Table tier: rows per minute, per 5-minute block, or per hour. */
export type Tier = 'minute' | 'five' | 'hour';

/** One time range [fromSec, toSec) read from one table tier. Times in epoch seconds. */
export interface TierRange {
  tier: Tier;
  fromSec: number;
  toSec: number;
}

/** Rollup tiers, widest first, with their block width (s) and time column. */
const ROLLUPS: readonly { tier: Exclude<Tier, 'minute'>; width: number }[] = [
  { tier: 'hour', width: 3600 },
  { tier: 'five', width: 300 },
];

/** Time column of a tier's table (the 5-minute table names its block start `minute`). */
const TIME_COLUMN: Record<Tier, string> = { minute: 'minute', five: 'minute', hour: 'hour' };

/**
 * Split the aligned window into ranges per tier (see the module doc).
 * @param fromSec window start, epoch s, a multiple of `step` (hence of 60).
 * @param toSec window end (exclusive), epoch s, a multiple of 60.
 * @param step bucket width, s (multiple of 60).
 * @param family which tables exist (the user costs have no 5-minute tier); default series.
 * @returns non-empty ranges, in time order, covering [fromSec, toSec) exactly
 *   once; a tier of width w only when step is a multiple of w, and each
 *   range aligned to its tier's width; an empty window gives [].
 */
export function planTiers(fromSec: number, toSec: number, step: number, family: Family = 'series'): TierRange[] {
  const usable = ROLLUPS.filter((r) => step % r.width === 0 && r.tier in TABLES[family]);
  const cover = (from: number, to: number, level: number): TierRange[] => {
    if (to <= from) return [];
    const r = usable[level];
    if (r === undefined) return [{ tier: 'minute', fromSec: from, toSec: to }];
    const blockFrom = Math.ceil(from / r.width) * r.width;
    const blockTo = Math.floor(to / r.width) * r.width;
    if (blockTo <= blockFrom) return cover(from, to, level + 1);
    return [
      ...cover(from, blockFrom, level + 1),
      { tier: r.tier, fromSec: blockFrom, toSec: blockTo },
      ...cover(blockTo, to, level + 1),
    ];
  };
  return cover(fromSec, toSec, 0);
}

/**
 * Table of a tier.
 * @throws Error when the family has no such tier (a planning bug).
 */
function tableOf(family: Family, tier: Tier): string {
  const t = (TABLES[family] as Partial<Record<Tier, string>>)[tier];
  if (t === undefined) throw new Error(`no ${tier} tier for ${family} aggregates`);
  return t;
}

/** Table names of the ranges, for logs and tests. */
export function tablesOf(family: Family, ranges: readonly TierRange[]): string[] {
  return ranges.map((r) => tableOf(family, r.tier));
}

/**
 * SQL of one metrics answer over the planned ranges.
 *
 * Every range becomes one `SELECT <time column> AS t, <columns> FROM <table>
 * WHERE tenant … AND time in range AND filters`; several are combined with
 * UNION ALL, then rows are grouped per bucket (`t_s`, epoch s) and group
 * (`grp`), merged with `aggs`, and limited to `max_points_plus_one` rows.
 *
 * @param family which aggregates.
 * @param ranges from {@link planTiers} (at least one).
 * @param columns stored columns the aggregates read, e.g. ['count', 'sketch_bins'].
 * @param aggs aggregate expressions over those columns, e.g. 'sum(count) AS n'.
 * @param filters extra WHERE fragments with typed placeholders (service = {service:String} …).
 * @param groupExpr group expression ('{group_col:Identifier}' or "''").
 * @param outer optional output expressions over the aggregated columns (t_s,
 *   grp and the aliases of `aggs`), e.g. to return quantile keys instead of
 *   bin maps; default: the aggregated columns themselves.
 * @returns SQL with placeholders {db}, {tenant}, {step}, {max_points_plus_one},
 *   and {r<i>_from:UInt32} / {r<i>_to:UInt32} per range (see {@link rangeParams}).
 */
export function aggregateSql(
  family: Family,
  ranges: readonly TierRange[],
  columns: readonly string[],
  aggs: string,
  filters: readonly string[],
  groupExpr: string,
  outer?: string,
): string {
  const parts = ranges.map((r, i) => {
    const time = TIME_COLUMN[r.tier];
    const where = [
      'tenant = {tenant:String}',
      `${time} >= toDateTime({r${i}_from:UInt32}, 'UTC')`,
      `${time} < toDateTime({r${i}_to:UInt32}, 'UTC')`,
      ...filters,
    ];
    return `SELECT ${time} AS t, ${groupExpr} AS grp, ${columns.join(', ')} FROM {db:Identifier}.${tableOf(family, r.tier)} WHERE ${where.join(' AND ')}`;
  });
  const sql = `
SELECT toUInt32(intDiv(toUInt32(t), {step:UInt32}) * {step:UInt32}) AS t_s, grp, ${aggs}
FROM (${parts.join('\nUNION ALL\n')})
GROUP BY t_s, grp
HAVING sum(count) > 0
ORDER BY t_s, grp
LIMIT {max_points_plus_one:UInt32}`;
  return outer === undefined ? sql : `SELECT t_s, grp, ${outer} FROM (${sql}) ORDER BY t_s, grp`;
}

/** Placeholder values of the ranges of {@link aggregateSql}: r<i>_from / r<i>_to in epoch s. */
export function rangeParams(ranges: readonly TierRange[]): Record<string, number> {
  const out: Record<string, number> = {};
  ranges.forEach((r, i) => {
    out[`r${i}_from`] = r.fromSec;
    out[`r${i}_to`] = r.toSec;
  });
  return out;
}

/**
 * Cost by user from raw spans (when an operation filter rules out the user
 * tables): the sums span_user_costs_1m would hold, per minute bucket of the
 * span start, so the answer equals the aggregate one. Columns: t_s, grp, cost,
 * input, output, cached, unpriced, n, priced (spans with a price).
 * @param filters WHERE fragments over spans columns (name = {operation:String} …).
 * @returns SQL with placeholders {db}, {tenant}, {from_s}, {to_s} (epoch s,
 *   minute-aligned), {step}, {max_points_plus_one}.
 */
export function userCostFromSpansSql(filters: readonly string[]): string {
  const where = [
    'tenant = {tenant:String}',
    "start_time >= toDateTime64({from_s:UInt32}, 9, 'UTC')",
    "start_time < toDateTime64({to_s:UInt32}, 9, 'UTC')",
    ...filters,
  ];
  return `
SELECT toUInt32(intDiv(toUInt32(toStartOfMinute(start_time)), {step:UInt32}) * {step:UInt32}) AS t_s, user_id AS grp,
  sum(coalesce(cost_usd, 0)) AS cost, sum(input_tokens) AS input, sum(output_tokens) AS output,
  sum(cached_tokens) AS cached, sum(unpriced) AS unpriced, count() AS n, countIf(cost_usd IS NOT NULL) AS priced
FROM {db:Identifier}.spans
WHERE ${where.join(' AND ')}
GROUP BY t_s, grp
ORDER BY t_s, grp
LIMIT {max_points_plus_one:UInt32}`;
}
