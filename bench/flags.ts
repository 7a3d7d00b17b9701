/**
 * Flag evaluation speed (issue 10: "measure evaluations/s in bench/").
 *
 *   npm run bench:flags [-- --seconds 5 --connections 16]
 *
 * Method. Two flags like the README's: `new-checkout` (boolean; a rule on
 * `email` ends_with, then a 10 / 90 % rollout on the targeting key) and
 * `plan-limits` (object, three variants; an `in` rule on `plan`, then a
 * semver rule, then a static variant), plus eight static flags for the bulk
 * case. Each user is a distinct targeting key, so rollouts hash every time.
 *
 * 1. In memory: `evaluateFlag` (flags/evaluate.ts) in a loop on one thread —
 *    the cost of targeting and sticky bucketing alone.
 * 2. OFREP over HTTP: `vigil` with the query role (embedded Postgres; the flag
 *    cache loaded once and kept by LISTEN/NOTIFY), the project key as Bearer,
 *    `--connections` keep-alive connections (undici) each sending one request
 *    after the other for `--seconds`: single-flag
 *    `POST /ofrep/v1/evaluate/flags/new-checkout`, and bulk
 *    `POST /ofrep/v1/evaluate/flags` (10 flags per answer). The load
 *    generator runs in the same process and shares the 2 cores, so the HTTP
 *    figures are a floor.
 * Reported: evaluations/s, and for HTTP requests/s with p50 / p99 latency.
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { evaluateFlag } from '../flags/evaluate.js';
import { parseFlag } from '../flags/model.js';
import { loadConfig } from '../platform/config.js';
import { createLogger } from '../platform/logger.js';
import { startVigil } from '../platform/lifecycle.js';

const { values: opt } = parseArgs({ options: { seconds: { type: 'string' }, connections: { type: 'string' } }, strict: true });
const seconds = Number(opt.seconds ?? 5);
const connections = Number(opt.connections ?? 16);

const CHECKOUT = {
  key: 'new-checkout',
  description: 'bench',
  type: 'boolean',
  variants: { on: true, off: false },
  default_variant: 'off',
  rules: [{ name: 'staff', conditions: [{ attribute: 'email', operator: 'ends_with', value: '@acme.com' }], serve: { variant: 'on' } }],
  fallthrough: { rollout: [{ variant: 'on', weight: 10 }, { variant: 'off', weight: 90 }] },
};
const LIMITS = {
  key: 'plan-limits',
  description: 'bench',
  type: 'object',
  variants: { free: { rpm: 60 }, pro: { rpm: 600 }, beta: { rpm: 6000 } },
  default_variant: 'free',
  rules: [
    { name: 'paid', conditions: [{ attribute: 'plan', operator: 'in', value: ['pro', 'team'] }], serve: { variant: 'pro' } },
    { name: 'new app', conditions: [{ attribute: 'app_version', operator: 'semver_gte', value: '2.0.0' }], serve: { variant: 'beta' } },
  ],
};
const STATIC = Array.from({ length: 8 }, (_, i) => ({ key: `static-${i}`, description: 'bench', type: 'string', variants: { a: 'a', b: 'b' }, default_variant: 'a' }));

const context = (i: number): Record<string, unknown> => ({ targetingKey: `user-${i}`, email: i % 7 === 0 ? `u${i}@acme.com` : `u${i}@example.com`, plan: i % 3 === 0 ? 'pro' : 'free', app_version: i % 2 === 0 ? '2.1.0' : '1.9.3' });

function inMemory(): void {
  const specs = [parseFlag(CHECKOUT), parseFlag(LIMITS)]; // validated and normalised as the API does
  let n = 0;
  for (let i = 0; i < 20_000; i++) evaluateFlag(specs[i & 1]!, context(i)); // warm-up
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let k = 0; k < 1000; k++, n++) evaluateFlag(specs[n & 1]!, context(n));
  }
  const s = (performance.now() - t0) / 1000;
  process.stdout.write(`| in memory (evaluateFlag), 1 thread | ${Math.round(n / s).toLocaleString('en-US')} | – | – | ${((s * 1e6) / n).toFixed(2)} µs per evaluation |\n`);
}

async function overHttp(): Promise<void> {
  const config = loadConfig({
    VIGIL_DATA_DIR: `${os.tmpdir()}/vigil-bench-flags-${process.pid}`,
    VIGIL_QUERY_PORT: '0',
    VIGIL_INGEST_PORT: '0',
    VIGIL_API_KEY: 'vgl_be0cbe0cbe0c_abcdefghijklmnopqrstuvwxyzABCDEF',
    VIGIL_LOG_LEVEL: 'warn',
    VIGIL_ANOMALY_SCORING: 'off',
  });
  const vigil = await startVigil(config, createLogger('warn'), { roles: ['query'], embedded: true, demo: false });
  const pool = new Pool(vigil.queryUrl!, { connections, pipelining: 1 });
  const headers = { authorization: `Bearer ${config.auth.apiKey}`, 'content-type': 'application/json' };
  try {
    for (const f of [CHECKOUT, LIMITS, ...STATIC]) {
      const r = await pool.request({ method: 'POST', path: '/api/v1/flags', headers, body: JSON.stringify(f) });
      const text = await r.body.text();
      if (r.statusCode !== 201) throw new Error(`creating ${f.key}: ${r.statusCode} ${text}`);
    }
    for (const [name, path, perAnswer] of [
      ['OFREP single flag', '/ofrep/v1/evaluate/flags/new-checkout', 1],
      ['OFREP bulk (10 flags)', '/ofrep/v1/evaluate/flags', 10],
    ] as const) {
      const lat: number[] = [];
      let n = 0;
      const loop = async (end: number, record: boolean): Promise<void> => {
        while (performance.now() < end) {
          const t = performance.now();
          const r = await pool.request({ method: 'POST', path, headers, body: JSON.stringify({ context: context(n++) }) });
          await r.body.text();
          if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode}`);
          if (record) lat.push(performance.now() - t);
        }
      };
      await Promise.all(Array.from({ length: connections }, () => loop(performance.now() + 1000, false))); // warm-up
      const t0 = performance.now();
      await Promise.all(Array.from({ length: connections }, () => loop(t0 + seconds * 1000, true)));
      const s = (performance.now() - t0) / 1000;
      lat.sort((a, b) => a - b);
      const q = (p: number): string => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(2);
      process.stdout.write(`| ${name}, HTTP, ${connections} connections | ${Math.round((lat.length * perAnswer) / s).toLocaleString('en-US')} | ${Math.round(lat.length / s).toLocaleString('en-US')} | ${q(0.5)} / ${q(0.99)} ms | |\n`);
    }
  } finally {
    await pool.close();
    await vigil.stop();
  }
}

process.stdout.write(`flags bench: ${seconds} s per case, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n\n`);
process.stdout.write('| case | evaluations/s | requests/s | p50 / p99 | note |\n|---|---|---|---|---|\n');
inMemory();
await overHttp();
process.exit(0);
