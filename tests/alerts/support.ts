/**
 * Test support for alerting: a migrated Postgres database, the shared test
 * chDB, aggregate rows written straight into span_metrics_1m, a local webhook
 * receiver, and a ClickHouse handle that fails like an unreachable server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { SketchAccumulator } from '../../processors/sketch.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { createTestDatabase } from '../support/harness.js';

export const log = createLogger('silent');

/** A fresh Postgres database with every migration applied. */
export async function migratedPool(): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: await createTestDatabase(), max: 8 });
  pool.on('error', () => undefined);
  await migratePostgres(pool, { log });
  return pool;
}

/** A fresh tenant id, with its projects row. */
export async function newProject(pool: pg.Pool): Promise<string> {
  const id = `t_${randomBytes(4).toString('hex')}`;
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1)', [id]);
  return id;
}

/** The shared test chDB. */
export const clickhouse = (): Promise<ClickHouseHandle> => createTestClickHouse();

/** A whole minute in the future (epoch ms), so rules created now are due at every test clock ≥ it. */
export function baseMinute(): number {
  return Math.ceil(Date.now() / 60_000) * 60_000 + 120_000;
}

/** One minute of one series in span_metrics_1m. Durations in ms; cost in USD. */
export interface MinuteRow {
  minuteMs: number;
  service?: string;
  operation?: string;
  model?: string;
  provider?: string;
  count: number;
  errors?: number;
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  /** Each span's duration, ms (default: `count` spans of 10 ms). */
  durationsMs?: number[];
}

const chTime = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

/** Insert partial aggregate rows for `tenant`. */
export async function insertMinutes(ch: ClickHouseHandle, tenant: string, rows: MinuteRow[]): Promise<void> {
  const values = rows.map((r) => {
    const acc = new SketchAccumulator();
    const durations = r.durationsMs ?? Array.from({ length: r.count }, () => 10);
    for (const d of durations) acc.add(d);
    return {
      tenant,
      minute: chTime(r.minuteMs),
      service: r.service ?? 'checkout',
      operation: r.operation ?? 'GET /pay',
      model: r.model ?? '',
      provider: r.provider ?? '',
      count: r.count,
      error_count: r.errors ?? 0,
      duration_sum_ns: Math.round(durations.reduce((a, b) => a + b, 0) * 1e6),
      input_tokens: r.inputTokens ?? 0,
      output_tokens: r.outputTokens ?? 0,
      cached_tokens: 0,
      cost_usd: r.costUsd ?? 0,
      unpriced_count: 0,
      sketch_bins: acc.toBins(),
      sketch_zero: acc.zero,
    };
  });
  await ch.client.insert({ table: `${ch.database}.span_metrics_1m`, values, format: 'JSONEachRow' });
}

/** A ClickHouse handle whose queries fail like an unreachable server (ECONNREFUSED). */
export function unreachableClickHouse(): ClickHouseHandle {
  const fail = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' });
  };
  return { client: { query: fail, command: fail, insert: fail, ping: fail, close: async () => undefined } as never, database: 'vigil', mode: 'http', location: 'http://127.0.0.1:8123', insertRaw: fail };
}

/** A request the receiver got. */
export interface Received {
  body: string;
  headers: http.IncomingHttpHeaders;
  json: unknown;
}

/** A local HTTP receiver whose answers tests script. */
export interface Receiver {
  url: string;
  received: Received[];
  /**
   * How to answer each request: a status (with optional headers), or 'hang'
   * (never answer, until the receiver closes). Consumed in order; after the
   * list, answers 200.
   */
  script: Array<number | { status: number; headers?: Record<string, string> } | 'hang'>;
  close(): Promise<void>;
}

/** Start a receiver on 127.0.0.1. */
export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const hanging = new Set<http.ServerResponse>();
  const r: Partial<Receiver> = { received, script: [] };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      received.push({ body, headers: req.headers, json });
      const step = r.script!.shift() ?? 200;
      if (step === 'hang') {
        hanging.add(res);
        return;
      }
      const { status, headers } = typeof step === 'number' ? { status: step, headers: {} } : step;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  r.url = `http://127.0.0.1:${port}/hook`;
  r.close = async () => {
    for (const h of hanging) h.destroy();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return r as Receiver;
}
