/**
 * Seeded, bounded fuzz of every query-API route (issue 5: "no client input can
 * produce a 5xx"): thousands of random and hostile query strings and path ids,
 * sent with app.inject() against the real test chDB. Every answer must be a
 * non-5xx; every 400 must carry a VIGIL_ERR_* code and, for validation errors,
 * name the parameter; every 200 must have the route's shape.
 *
 * Deterministic: a fixed seed per route (mulberry32); a failure message carries
 * the seed, the case number and the request URL, so it can be replayed.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeCursor } from '../../query-api/cursor.js';
import { insert, logRow, metricRow, minuteAgo, spanRow, testApp, traceId, type TestApp } from './support.js';
import { mulberry32 } from '../support/prng.js';

/** Requests per route. 5 routes → 5,000 requests. */
const CASES_PER_ROUTE = 1_000;

class Gen {
  constructor(readonly rnd: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.rnd() * (max - min + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(0, 9));
    return s;
  }
  hex(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += '0123456789abcdefABCDEF'[this.int(0, 21)];
    return s;
  }
  /** Random code points, including controls, surrogates-as-text, RTL, emoji and NUL. */
  chars(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) {
      const kind = this.int(0, 5);
      if (kind === 0) s += String.fromCharCode(this.int(0, 31));
      else if (kind === 1) s += String.fromCharCode(this.int(32, 126));
      else if (kind === 2) s += String.fromCodePoint(this.int(0x80, 0x7ff));
      else if (kind === 3) s += String.fromCodePoint(this.int(0x1f300, 0x1f64f));
      else if (kind === 4) s += this.pick(['\u202e', '\ufeff', '\u0000', '\\', "'", '"', '{', '}', '%', '&', '=', '+', '#']);
      else s += String.fromCodePoint(this.int(0x4e00, 0x9fff));
    }
    return s;
  }
}

const HOSTILE = [
  '', ' ', '0', '-0', '-1', '1e17', '1e308', '1e309', '-1e309', 'Infinity', '-Infinity', 'NaN', 'null', 'undefined', 'true',
  '0x10', '0b1', '0o7', '1_000', '٣', '１２３', '9'.repeat(30), '18446744073709551615', '18446744073709551616',
  '9223372036854775807', '-9223372036854775808', '4294967295', '4294967296', '2147483648', '1.5', '.5', '5.', '1e-7',
  "' OR 1=1 --", '{db:Identifier}', '{tenant:String}', '); DROP TABLE spans; --', '\\', '%', '%%', '%ZZ', '%C3', '%F0%9F',
  '%00', '%0A', '%E2%80%AE', '__proto__', 'constructor', 'toString', 'hasOwnProperty', '[object Object]', '[]', '{}',
  'x'.repeat(513), 'y'.repeat(4096), 'now', 'now-', 'now-0s', 'now-999999w', 'now-1y', 'now+1h', 'NOW-15M',
  '1970-01-01T00:00:00Z', '1969-12-31T23:59:59.999999999Z', '2100-01-01T00:00:00Z', '2100-01-01T00:00:00.000000001Z',
  '2106-02-07T06:28:16Z', '2262-04-12T00:00:00Z', '2262-04-11T23:47:16.854775808Z', '9999-12-31T23:59:59Z', '0000-01-01T00:00:00Z',
  '2026-02-29T00:00:00Z', '2024-02-29T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T00:00:60Z', '2026-01-01T00:00:00+24:00',
  '2026-01-01T00:00:00-23:59', '2026-01-01T00:00:00.1234567891Z', '2026-01-01 00:00:00', '2026-01-01', '100000000000',
  '99999999999', '9999999999999999', '8640000000000001', '4102444800000', '4102444800001',
];

const ROUTE_PARAMS: Record<string, readonly string[]> = {
  '/api/v1/traces': ['service', 'operation', 'status', 'min_duration_ms', 'max_duration_ms', 'from', 'to', 'limit', 'cursor'],
  '/api/v1/logs': ['from', 'to', 'severity', 'service', 'trace_id', 'q', 'limit', 'cursor'],
  '/api/v1/metrics/latency': ['from', 'to', 'step', 'service', 'operation', 'model', 'group_by'],
  '/api/v1/metrics/cost': ['from', 'to', 'step', 'service', 'operation', 'model', 'group_by'],
  trace: [],
};

const UNKNOWN_NAMES = ['x', 'group', 'limit ', 'LIMIT', '__proto__', 'constructor', 'toString', 'from[]', 'to.x', 'a'.repeat(300), '', '%00', 'db', 'tenant'];

/** A plausible-or-broken time string. */
function timeValue(g: Gen): string {
  switch (g.int(0, 6)) {
    case 0:
      return String(g.int(0, 5_000_000_000_000) + (g.chance(0.3) ? g.rnd() : 0)).slice(0, 20);
    case 1: {
      const y = g.pick([1900, 1969, 1970, 1971, 2000, 2026, 2099, 2100, 2101, 2106, 2262, 2263, 9999]);
      const p2 = (n: number): string => String(n).padStart(2, '0');
      const frac = g.chance(0.5) ? `.${g.digits(g.int(1, 10))}` : '';
      const zone = g.pick(['Z', 'z', '+00:00', '-05:30', '+2359', '+24:00', '-00:60', '']);
      return `${y}-${p2(g.int(0, 13))}-${p2(g.int(0, 32))}T${p2(g.int(0, 24))}:${p2(g.int(0, 60))}:${p2(g.int(0, 60))}${frac}${zone}`;
    }
    case 2:
      return `now${g.chance(0.8) ? `-${g.int(0, 9_999_999)}${g.pick(['s', 'm', 'h', 'd', 'w', 'y', 'ms', ''])}` : ''}`;
    case 3:
      return new Date(Date.now() - g.int(0, 40 * 86_400_000)).toISOString();
    default:
      return g.pick(HOSTILE);
  }
}

/** A cursor: real-looking with random key parts, or junk. */
function cursorValue(g: Gen): string {
  switch (g.int(0, 4)) {
    case 0: {
      const ns = g.pick([0n, 1n, BigInt(Date.now()) * 1_000_000n, 4_102_444_800_000_000_000n, 4_102_444_800_000_000_001n, 10n ** 19n, 10n ** 20n - 1n]);
      const tie = g.pick([g.hex(32).toLowerCase(), g.digits(g.int(1, 21)), '', g.chars(5), '18446744073709551616']);
      return encodeCursor({ ns, tie });
    }
    case 1:
      return Buffer.from(JSON.stringify(g.pick([[], [1, 2], ['-1', 'x'], ['1e30', '1'], { a: 1 }, 'x', null, [['1'], '2'], ['12', '3', '4']]))).toString('base64url');
    case 2:
      return Buffer.from(g.chars(g.int(0, 40))).toString('base64url');
    default:
      return g.pick(HOSTILE);
  }
}

/** A value for parameter `name`: often valid-looking, often hostile. */
function valueFor(g: Gen, name: string): string {
  if (g.chance(0.25)) return g.chance(0.5) ? g.pick(HOSTILE) : g.chars(g.int(0, 600));
  switch (name) {
    case 'from':
    case 'to':
      return timeValue(g);
    case 'cursor':
      return cursorValue(g);
    case 'limit':
      return String(g.pick([g.int(-5, 1_100), g.int(0, 10)]));
    case 'min_duration_ms':
    case 'max_duration_ms':
      return g.pick([String(g.int(0, 10_000)), `${g.int(0, 99)}.${g.digits(g.int(1, 8))}`, String(g.int(0, 2 ** 31) * 1e6), '31536000000', '31536000000.000001']);
    case 'step':
      return String(g.pick([60, 120, 300, 3600, 86_400, 2_678_400, 2_678_460, 59, 61, 0, g.int(0, 3_000_000)]));
    case 'status':
      return g.pick(['ok', 'error', 'unset', 'OK', 'Error', '']);
    case 'severity':
      return g.pick(['trace', 'DEBUG', 'info', 'warn', 'warning', 'error', 'fatal', '0', '1', '24', '25', '9', 'constructor', '__proto__']);
    case 'group_by':
      return g.pick(['service', 'operation', 'model', 'provider', 'user', 'tenant', 'user_id', '']);
    case 'trace_id':
      return g.hex(g.pick([32, 32, 31, 33, 0, 64]));
    default:
      return g.pick(['svc', 'op', 'gpt-4o', 'api', g.chars(g.int(1, 40)), 'x'.repeat(g.pick([512, 513]))]);
  }
}

/** Percent-encode, or sometimes leave raw / break the encoding on purpose. */
function enc(g: Gen, s: string): string {
  const r = g.rnd();
  if (r < 0.85) return encodeURIComponent(s);
  if (r < 0.95) return s.replace(/[#&\s]/g, (c) => encodeURIComponent(c)); // raw but parseable
  return `${encodeURIComponent(s)}${g.pick(['%', '%Z', '%C3', '%F0%9F%98', '%%41'])}`;
}

/** One random request URL for `route` ('trace' = the single-trace route with a random id). */
function randomUrl(g: Gen, route: string): string {
  let path = route;
  if (route === 'trace') {
    const id = g.pick([g.hex(32), g.hex(32).toLowerCase(), g.hex(g.int(0, 40)), g.chars(g.int(1, 40)), g.pick(HOSTILE)]);
    path = `/api/v1/traces/${enc(g, id)}`;
  }
  const names = ROUTE_PARAMS[route]!;
  const parts: string[] = [];
  const n = g.int(0, names.length === 0 ? 2 : 5);
  for (let i = 0; i < n; i++) {
    const name = names.length === 0 || g.chance(0.08) ? g.pick(UNKNOWN_NAMES) : g.pick(names);
    const count = g.chance(0.05) ? 2 : 1; // repeated parameter
    for (let c = 0; c < count; c++) parts.push(g.chance(0.03) ? enc(g, name) : `${enc(g, name)}=${enc(g, valueFor(g, name))}`);
  }
  return parts.length === 0 ? path : `${path}?${parts.join('&')}`;
}

const ALLOWED_4XX = new Set(['VIGIL_ERR_VALIDATION', 'VIGIL_ERR_BAD_REQUEST', 'VIGIL_ERR_NOT_FOUND', 'VIGIL_ERR_QUERY_TOO_EXPENSIVE']);

let t: TestApp;
let auth: Record<string, string>;
let knownTrace: string;

beforeAll(async () => {
  t = await testApp();
  const tenant = t.tenant();
  auth = tenant.auth;
  knownTrace = traceId();
  const start = minuteAgo(10);
  const spans = Array.from({ length: 20 }, (_, i) =>
    spanRow({ tenant: tenant.tenant, trace_id: i === 0 ? knownTrace : traceId(), startMs: start + i * 1000, durationMs: i * 7 + 0.5, service: i % 2 ? 'svc' : 'api', name: i % 3 ? 'op' : 'GET /', status_code: i % 4 ? 'ok' : 'error' }),
  );
  await insert(t.ch, 'spans', spans);
  await insert(t.ch, 'logs', Array.from({ length: 20 }, (_, i) => logRow({ tenant: tenant.tenant, timeMs: start + i * 1000, body: `line ${i} gpt`, trace_id: knownTrace, severity_number: 1 + i })));
  await insert(
    t.ch,
    'span_metrics_1m',
    Array.from({ length: 10 }, (_, i) => metricRow({ tenant: tenant.tenant, minuteMs: minuteAgo(i), count: 3, sketch_bins: { '100': 2, '120': 1 }, model: 'gpt-4o', cost_usd: 0.01, input_tokens: 5 })),
  );
});

describe('query-api fuzz: no client input produces a 5xx', () => {
  const ROUTES = ['/api/v1/traces', 'trace', '/api/v1/logs', '/api/v1/metrics/latency', '/api/v1/metrics/cost'];
  for (const [index, route] of ROUTES.entries()) {
    it(`${route}: ${CASES_PER_ROUTE} seeded random and hostile requests`, async () => {
      const seed = 0x5eed0 + index;
      const g = new Gen(mulberry32(seed));
      const statuses = new Map<number, number>();
      for (let i = 0; i < CASES_PER_ROUTE; i++) {
        // Every 10th case of the trace route asks for a stored trace (a 200 path).
        const url = route === 'trace' && i % 10 === 0 ? `/api/v1/traces/${knownTrace}` : randomUrl(g, route);
        const res = await t.app.inject({ method: 'GET', url, headers: auth });
        const where = `seed ${seed} case ${i}: GET ${url.slice(0, 300)} → ${res.statusCode} ${res.body.slice(0, 300)}`;
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode < 500, where).toBe(true);
        const body = res.json() as Record<string, any>;
        if (res.statusCode >= 400) {
          expect(ALLOWED_4XX.has(body.error?.code), where).toBe(true);
          if (body.error.code === 'VIGIL_ERR_VALIDATION') expect(body.error.message, where).toMatch(/^[^:]+: \S/);
        } else {
          expect(res.statusCode, where).toBe(200);
          if (route === '/api/v1/traces') expect(Array.isArray(body.traces), where).toBe(true);
          else if (route === '/api/v1/logs') expect(Array.isArray(body.logs), where).toBe(true);
          else if (route === 'trace' && url.split('?')[0] === '/api/v1/traces/') expect(Array.isArray(body.traces), where).toBe(true); // trailing slash: the list
          else if (route === 'trace') expect(body.trace_id, where).toBe(knownTrace);
          else expect(Array.isArray(body.points), where).toBe(true);
        }
      }
      // The generator reaches both sides: accepted requests and refused ones.
      expect(statuses.get(200) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(CASES_PER_ROUTE / 20);
      expect(statuses.get(400) ?? 0, JSON.stringify([...statuses])).toBeGreaterThan(CASES_PER_ROUTE / 4);
    });
  }
});
