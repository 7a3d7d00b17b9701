/**
 * Shared by the side measurements on copies of the kept bench:query data
 * (bench/query-granularity.ts, bench/query-projection.ts): open the kept
 * chDB directory, and time the same queries on several tables in interleaved
 * rounds.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createClickHouse, type ClickHouseHandle } from '../platform/clickhouse.js';

/** The kept directory's database `vigil`, with helpers that never time out (copies take minutes). */
export interface KeptData {
  ch: ClickHouseHandle;
  /** Rows of a query (JSONEachRow). */
  q: (sql: string, params?: Record<string, unknown>) => Promise<Record<string, unknown>[]>;
  /** A statement without a result. */
  cmd: (sql: string) => Promise<void>;
}

/**
 * The command line of a side measurement: `--dir D` (required), `--hours`
 * (default 3) of the day to copy, `--rounds` (default 4).
 * @throws Error naming --dir when it is missing.
 */
export function sideArgs(): { dir: string; hours: number; rounds: number } {
  const { values: opt } = parseArgs({ options: { dir: { type: 'string' }, hours: { type: 'string' }, rounds: { type: 'string' } }, strict: true });
  if (opt.dir === undefined) throw new Error('--dir D is required: a directory kept by npm run bench:query -- --dir D --keep');
  return { dir: opt.dir, hours: Number(opt.hours ?? 3), rounds: Number(opt.rounds ?? 4) };
}

/** Open the chDB directory D kept by `npm run bench:query -- --dir D --keep`. */
export function openKept(dir: string): KeptData {
  const ch = createClickHouse({ url: undefined, username: undefined, password: undefined, database: 'vigil', retentionDays: 31 }, dir, path.join(dir, 'clickhouse'));
  const settings = { max_execution_time: 0 };
  return {
    ch,
    q: async (sql, params = {}) => (await ch.client.query({ query: sql, query_params: params, format: 'JSONEachRow', clickhouse_settings: settings })).json<Record<string, unknown>>(),
    cmd: async (sql) => {
      await ch.client.command({ query: sql, clickhouse_settings: settings });
    },
  };
}

/** One timed query: a name, its SQL for a table, and fresh parameters per run. */
export interface TimedQuery {
  name: string;
  sql: (table: string) => string;
  params: () => Record<string, unknown>;
}

/**
 * Per round (the table order alternating, so that a shared machine's noise
 * falls on every table alike), run each query `runs` times per table and print
 * the wall-clock median and p90 (ms).
 * @param run executes one query and resolves when its result is read.
 */
export async function timeInterleaved(
  tables: readonly string[],
  queries: readonly TimedQuery[],
  rounds: number,
  run: (sql: string, params: Record<string, unknown>) => Promise<unknown>,
  runs = 12,
): Promise<void> {
  const width = Math.max(...tables.map((t) => t.length)) + 1;
  for (let round = 0; round < rounds; round++) {
    for (const t of round % 2 === 0 ? tables : [...tables].reverse()) {
      for (const query of queries) {
        const ms: number[] = [];
        for (let i = 0; i < runs; i++) {
          const p = query.params();
          const t0 = performance.now();
          await run(query.sql(t), p);
          ms.push(performance.now() - t0);
        }
        ms.sort((a, b) => a - b);
        const at = (f: number): string => ms[Math.min(ms.length - 1, Math.floor(ms.length * f))]!.toFixed(1);
        console.log(`round ${round} ${t.padEnd(width)} ${query.name.padEnd(13)} median ${at(0.5)} ms, p90 ${at(0.9)} ms`);
      }
    }
  }
}
