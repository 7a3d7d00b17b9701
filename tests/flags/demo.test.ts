/**
 * The demo's flag: `vigil start`'s set-up creates flag demo.chat-model and its
 * experiment; the demo child evaluates it over OFREP against a listening
 * query API (OpenFeature server SDK) inside its LLM span, calls the model the
 * variant names, and that priced span (`chat <model>`) carries the
 * semantic-convention `feature_flag.evaluation` event, so the experiment's
 * per-span cost is the model call's (checked in the OTLP/JSON the real OTel
 * SDK exports).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_FLAG } from '../../demo/flags.js';
import { DEMO_EXPERIMENT, ensureDemoFlag } from '../../demo/flags-setup.js';
import { startDemo, type Demo } from '../../demo/index.js';
import { migratePostgres } from '../../platform/migrate.js';
import { buildQueryApp } from '../../query-api/app.js';
import { createTestDatabase } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { clickhouse, log } from '../alerts/support.js';

interface OtlpAttr { key: string; value: { stringValue?: string; intValue?: string | number; boolValue?: boolean } }
interface OtlpSpan { name: string; attributes?: OtlpAttr[]; events?: Array<{ name: string; attributes?: OtlpAttr[] }> }

let pool: pg.Pool;
let dbUrl: string;
let app: FastifyInstance;
let baseUrl: string;
let demo: Demo | undefined;
const bodies: string[] = [];
let receiver: http.Server;
let receiverUrl: string;
const project = `t_${randomBytes(4).toString('hex')}`;
const apiKey = `vgl_${randomBytes(6).toString('hex')}_${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  dbUrl = await createTestDatabase();
  pool = new pg.Pool({ connectionString: dbUrl, max: 6 });
  await migratePostgres(pool, { log });
  app = buildQueryApp({ log, clickhouse: await clickhouse(), keys: { verify: async (k) => (k === apiKey ? { projectId: project } : null) }, flags: { pool } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  baseUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  receiver = http.createServer((req, res) => {
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (b += c));
    req.on('end', () => {
      if (req.url === '/v1/traces') bodies.push(b);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await demo?.stop();
  await new Promise<void>((resolve) => receiver.close(() => resolve()));
  await app.close();
  await pool.end();
});

const spans = (): OtlpSpan[] =>
  bodies.flatMap((b) => (JSON.parse(b) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> }).resourceSpans ?? [])
    .flatMap((r) => r.scopeSpans ?? []).flatMap((s) => s.spans ?? []);
const attr = (a: OtlpAttr[] | undefined, k: string) => a?.find((x) => x.key === k)?.value.stringValue;

describe('demo flag', () => {
  it('is created once with its experiment, evaluated over OFREP, and recorded on the LLM span', async () => {
    const expId = await ensureDemoFlag(pool, project);
    expect(await ensureDemoFlag(pool, project)).toBe(expId);
    const exps = await pool.query('SELECT name, flag_key, status FROM ab_experiments WHERE project_id = $1', [project]);
    expect(exps.rows).toEqual([{ name: DEMO_EXPERIMENT, flag_key: DEMO_FLAG, status: 'running' }]);

    demo = await startDemo({ ingestUrl: receiverUrl, apiKey, databaseUrl: dbUrl, log, protocol: 'http/json', load: false, queryUrl: baseUrl, scheduledDelayMillis: 100 });
    for (const user of ['user-carol', 'user-alice']) {
      const res = await fetch(`${demo.url}/chat`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': user }, body: '{"prompt":"hi"}' });
      expect(res.status).toBe(200);
    }
    const calls = await waitFor('two LLM spans with a flag evaluation event', () => {
      const s = spans().filter((x) => x.name.startsWith('chat ') && (x.events ?? []).some((e) => e.name === 'feature_flag.evaluation'));
      return s.length >= 2 ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100 });
    const variants = calls.map((s) => {
      const e = s.events!.find((x) => x.name === 'feature_flag.evaluation')!;
      expect(attr(e.attributes, 'feature_flag.key')).toBe(DEMO_FLAG);
      return attr(e.attributes, 'feature_flag.result.variant');
    });
    // Buckets: SHA-256("demo.chat-model/user-carol") falls in the "full" half, user-alice's in "mini".
    expect(variants.sort()).toEqual(['full', 'mini']);
    // Each evaluating span is the call of the model its variant names, priced by that model.
    expect(calls.map((s) => [s.name, attr(s.attributes, 'gen_ai.request.model')]).sort()).toEqual([['chat gpt-4o', 'gpt-4o'], ['chat gpt-4o-mini', 'gpt-4o-mini']]);
    // The request's SERVER span no longer records it (one evaluation = one request).
    expect(spans().filter((x) => x.name === 'POST /chat').every((x) => !(x.events ?? []).some((e) => e.name === 'feature_flag.evaluation'))).toBe(true);
  });
});
