/**
 * Issue 8 "OpenAPI": a schemathesis-style property test over the query API's
 * own OpenAPI document. Requests are generated from each GET operation's
 * documented parameters (query and path) with a seeded PRNG — values that fit
 * the schema (enums, integer bounds, times in every accepted form), edge
 * values and junk — a bounded number of cases per operation; no answer may
 * be a 5xx. Also: every route is in the document with its parameters, and
 * the Swagger UI is served at /docs from local files.
 */
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import { migratePostgres } from '../../platform/migrate.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { createTestDatabase } from '../support/harness.js';
import pgLib from 'pg';
import { mulberry32 as rng } from '../support/prng.js';

/** Cases per GET operation (bounded: the whole test stays within seconds of requests). */
const CASES_PER_OPERATION = 40;
const SEED = Number(process.env['VIGIL_TEST_SEED'] ?? 0x5eed8);

let app: FastifyInstance;
let pool: pg.Pool;
const TENANT = 't_openapi';
const KEY = 'key_openapi';

beforeAll(async () => {
  const ch = await createTestClickHouse();
  pool = new pgLib.Pool({ connectionString: await createTestDatabase(), max: 4 });
  pool.on('error', () => undefined);
  await migratePostgres(pool, { log: createLogger('silent') });
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1)', [TENANT]);
  app = buildQueryApp({
    log: createLogger('silent'),
    clickhouse: ch,
    keys: { verify: async (k) => (k === KEY ? { projectId: TENANT } : null) },
    alerts: { pool, allowHosts: [], externalUrl: () => 'http://vigil.test' },
    flags: { pool },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
});

interface Param {
  name: string;
  in: 'query' | 'path' | 'header';
  required?: boolean;
  schema?: Schema;
}
interface Schema {
  type?: string | string[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  anyOf?: Schema[];
  items?: Schema;
}

const JUNK = [
  '', ' ', '-1', '0', '1e309', 'NaN', '999999999999999999999999', '2262-04-12T00:00:00Z', 'now-99999999w', 'now-15m', 'now',
  "'; DROP TABLE spans --", '{db:Identifier}', '%00', '\u0000', 'ü🙂', 'x'.repeat(600), 'a,b,c,d,e', 'true', 'null', '[]', '((', 'x>=', 'k in (',
];

/** A value for one schema: fitting, at an edge, or junk. */
function valueFor(s: Schema | undefined, r: () => number, name: string): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const roll = r();
  if (roll < 0.3) return pick(JUNK);
  if (s?.anyOf && s.anyOf.length > 0) return valueFor(pick(s.anyOf), r, name);
  if (s?.enum && s.enum.length > 0) return String(pick(s.enum));
  if (name === 'from' || name === 'to') return pick(['now-1h', 'now-7d', 'now', String(Date.now() - 3_600_000), new Date().toISOString(), '2026-01-01T00:00:00+05:30']);
  if (name === 'filter') return pick(['http.status_code>=500', 'resource.env=prod', 'a in (1, "2")', 'k exists', 'k contains x', 'n<=1.5e3', 'b!=true']);
  if (name === 'group_by') return pick(['service', 'model', 'service,status', 'customer.tier', 'a,b,c', 'operation,model,provider']);
  const type = Array.isArray(s?.type) ? s!.type[0] : s?.type;
  if (type === 'integer' || type === 'number') {
    const lo = s?.minimum ?? 0;
    const hi = s?.maximum ?? 1_000_000;
    return String(pick([lo, hi, Math.floor(lo + r() * (hi - lo)), hi + 1, lo - 1]));
  }
  if (type === 'boolean') return pick(['true', 'false']);
  if (s?.pattern === '^[0-9a-fA-F]{32}$' || name === 'traceId' || name === 'id') return pick(['ab'.repeat(16), '0'.repeat(32), 'zz', 'conv-1']);
  return pick(['a', 'checkout', '60', '3600', 'error', 'x'.repeat(s?.maxLength ?? 10), String(Math.floor(r() * 1e6))]);
}

interface Operation {
  path: string;
  params: Param[];
}

/** GET operations of the document with their parameters. */
async function getOperations(): Promise<{ doc: any; ops: Operation[] }> {
  const res = await app.inject({ method: 'GET', url: '/openapi.json' });
  expect(res.statusCode).toBe(200);
  const doc = res.json() as any;
  const ops: Operation[] = [];
  for (const [path, item] of Object.entries<any>(doc.paths)) {
    // Streaming (Server-Sent Events) routes never end an answer: not request/response, left out.
    if (item.get && !/\/(tail|stream)$/.test(path)) ops.push({ path, params: (item.get.parameters ?? []) as Param[] });
  }
  return { doc, ops };
}

describe('OpenAPI document and Swagger UI', () => {
  it('documents every route with its parameters; /docs serves the UI from local files', async () => {
    const { doc, ops } = await getOperations();
    const paths = Object.keys(doc.paths);
    for (const p of [
      '/api/v1/traces', '/api/v1/traces/{traceId}', '/api/v1/logs', '/api/v1/metrics/latency', '/api/v1/metrics/cost',
      '/api/v1/metrics/requests', '/api/v1/metrics/spans', '/api/v1/executions', '/api/v1/executions/{id}', '/api/v1/executions/stats',
      '/api/v1/conversations/{id}/executions', '/api/v1/cost/forecast',
    ]) {
      expect(paths, p).toContain(p);
    }
    const requests = ops.find((o) => o.path === '/api/v1/metrics/requests')!;
    expect(requests.params.map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'step', 'fill', 'group_by', 'status']));
    const ui = await app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.body).toMatch(/swagger/i);
    expect(ui.body).not.toMatch(/https?:\/\/(unpkg|cdn)/);
    const bundle = await app.inject({ method: 'GET', url: '/docs/static/swagger-ui-bundle.js' });
    expect(bundle.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).json()).toMatchObject({ openapi: expect.any(String) });
  });
});

describe('property: generated requests from the OpenAPI document never answer 5xx', () => {
  it(`${CASES_PER_OPERATION} seeded cases per GET operation`, async () => {
    const { ops } = await getOperations();
    const r = rng(SEED);
    const failures: string[] = [];
    let sent = 0;
    for (const op of ops) {
      for (let i = 0; i < CASES_PER_OPERATION; i++) {
        let path = op.path;
        const qs = new URLSearchParams();
        for (const p of op.params) {
          if (p.in === 'path') {
            path = path.replace(`{${p.name}}`, encodeURIComponent(valueFor(p.schema, r, p.name)) || 'x');
          } else if (p.in === 'query' && (p.required || r() < 0.5)) {
            qs.append(p.name, valueFor(p.schema, r, p.name));
            if (r() < 0.05) qs.append(p.name, valueFor(p.schema, r, p.name)); // repeated
          }
        }
        if (r() < 0.05) qs.append(`unknown_${Math.floor(r() * 10)}`, '1');
        const url = qs.size > 0 ? `${path}?${qs.toString()}` : path;
        const t0 = Date.now();
        const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${KEY}` } });
        if (process.env['VIGIL_TEST_TRACE'] !== undefined) console.log(Date.now() - t0, res.statusCode, url.slice(0, 120));
        sent += 1;
        if (res.statusCode >= 500) failures.push(`${res.statusCode} GET ${url} → ${res.body.slice(0, 300)}`);
      }
    }
    expect(sent).toBeGreaterThan(0);
    expect(failures, failures.join('\n')).toEqual([]);
  });
});
