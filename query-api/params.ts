/**
 * Shared query-string parameters of the query API, parsed by zod.
 *
 * Every parameter is bounded: times lie in [{@link TIME_MIN_ISO}, {@link TIME_MAX_ISO}]
 * (inside what every column type can hold: DateTime64(9) ends in 2262, the
 * DateTime minute buckets in 2106), durations in [0, 365 d], page sizes and
 * strings have maxima, enums are closed. Parsing failures become
 * {@link ValidationError} (VIGIL_ERR_VALIDATION, 400) naming the parameter and
 * the accepted form, e.g.
 * `from: expected ISO-8601 with a zone (2026-01-01T00:00:00Z), epoch milliseconds or now-15m, got "yesterday"`.
 * A parameter given twice (`?limit=1&limit=2`) is a 400 too.
 */
import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';

/** Earliest time a parameter may name: 1970-01-01T00:00:00Z (ns since epoch). */
export const TIME_MIN_NS = 0n;
/** Latest time a parameter may name: 2100-01-01T00:00:00Z (ns since epoch). */
export const TIME_MAX_NS = 4_102_444_800_000_000_000n;
export const TIME_MIN_ISO = '1970-01-01T00:00:00Z';
export const TIME_MAX_ISO = '2100-01-01T00:00:00Z';

/** Largest duration filter, ms (365 days). */
export const MAX_DURATION_MS = 365 * 86_400_000;

/** Longest string filter, characters. */
export const MAX_STRING_CHARS = 512;

/** Longest accepted cursor, characters. */
export const MAX_CURSOR_CHARS = 512;

const TIME_FORMS = `ISO-8601 with a zone (2026-01-01T00:00:00Z), epoch milliseconds (13 digits, not seconds) or now / now-15m (s, m, h, d, w)`;

/** JSON-quote a client value for a message, cut to 64 characters. */
export function show(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/i;
const MS_RE = /^(\d{1,16})(?:\.(\d{1,6}))?$/;
const RELATIVE_RE = /^now(?:-(\d{1,6})(s|m|h|d|w))?$/i;
const UNIT_NS: Record<string, bigint> = {
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
  w: 604_800_000_000_000n,
};

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number): number => (month === 2 && isLeap(year) ? 29 : DAYS[month - 1]!);

/**
 * Parse a time parameter to ns since the Unix epoch (not range-checked; see {@link timeParam}).
 * @param s ISO-8601 with a zone (`2026-01-01T10:00:00.123456789Z`, up to ns precision,
 *   calendar-checked: no Feb 30, no 24:00), epoch milliseconds (`1767261600000`, up to
 *   6 fractional digits; values < 1e11, i.e. before 1973-03-03, are refused as probable
 *   epoch seconds), or `now` / `now-<n><s|m|h|d|w>` relative to `nowMs`.
 * @param nowMs epoch ms of "now" for relative forms (default Date.now()).
 * @returns bigint ns (may be negative or far in the future), or undefined when `s` is none of the forms.
 */
export function parseTimeNs(s: string, nowMs: number = Date.now()): bigint | undefined {
  const t = s.trim();
  const ms = MS_RE.exec(t);
  if (ms) {
    const whole = BigInt(ms[1]!);
    // Epoch seconds passed by mistake land in 1970; refuse rather than silently return nothing.
    if (whole < 100_000_000_000n) return undefined;
    return whole * 1_000_000n + BigInt((ms[2] ?? '').padEnd(6, '0'));
  }
  const rel = RELATIVE_RE.exec(t);
  if (rel) {
    const now = BigInt(Math.floor(nowMs)) * 1_000_000n;
    return rel[1] === undefined ? now : now - BigInt(rel[1]) * UNIT_NS[rel[2]!.toLowerCase()]!;
  }
  const m = ISO_RE.exec(t);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? '0')) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMin = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMin = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMin, second, 0);
  return BigInt(date.getTime()) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
}

/** ns since epoch → ISO-8601 UTC with 9 fractional digits ('2026-01-01T10:00:00.123456789Z'); ns in [0, 2262]. */
export function nsToIso(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** True when `ns` lies in [{@link TIME_MIN_NS}, {@link TIME_MAX_NS}]. */
export function inTimeRange(ns: bigint): boolean {
  return ns >= TIME_MIN_NS && ns <= TIME_MAX_NS;
}

/** A time parameter (ISO-8601, epoch ms or now-relative) → bigint ns in [1970, 2100]. */
export const timeParam = z
  .string()
  .transform((s, ctx) => {
    const ns = parseTimeNs(s);
    if (ns === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${TIME_FORMS}, got ${show(s)}` });
      return z.NEVER;
    }
    if (!inTimeRange(ns)) {
      ctx.addIssue({ code: 'custom', message: `out of range: expected a time between ${TIME_MIN_ISO} and ${TIME_MAX_ISO}, got ${show(s)}` });
      return z.NEVER;
    }
    return ns;
  })
  .meta({ description: `ISO-8601 with zone, epoch milliseconds, or now-<n><s|m|h|d|w>; ${TIME_MIN_ISO} … ${TIME_MAX_ISO}` });

/** A decimal integer string in [min, max] → number. `what` describes it in messages. */
export function intParam(min: number, max: number, what: string) {
  const expected = `expected ${what}, an integer between ${min} and ${max}`;
  return z
    .string()
    .transform((s, ctx) => {
      const t = s.trim();
      const n = /^\d{1,16}$/.test(t) ? Number(t) : NaN;
      if (Number.isNaN(n)) {
        ctx.addIssue({ code: 'custom', message: `${expected}, got ${show(s)}` });
        return z.NEVER;
      }
      if (n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `out of range: ${expected}, got ${show(s)}` });
        return z.NEVER;
      }
      return n;
    });
}

/** Page size 1..max (default `def`). */
export function limitParam(def: number, max: number) {
  return intParam(1, max, `a page size (page with next_cursor for more)`)
    .optional()
    .transform((v) => v ?? def)
    .meta({ description: `page size, 1 … ${max}; default ${def}` });
}

/**
 * A duration in ms (decimal, up to 6 fractional digits = ns), 0 … {@link MAX_DURATION_MS}
 * → bigint ns, exact.
 */
export const durationMsParam = z
  .string()
  .transform((s, ctx) => {
    const expected = `expected milliseconds as a decimal number between 0 and ${MAX_DURATION_MS} (365 days), at most 6 decimals (e.g. 250 or 0.5)`;
    const m = /^(\d{1,30})(?:\.(\d{1,6}))?$/.exec(s.trim());
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `${expected}, got ${show(s)}` });
      return z.NEVER;
    }
    const ns = BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0'));
    if (ns > BigInt(MAX_DURATION_MS) * 1_000_000n) {
      ctx.addIssue({ code: 'custom', message: `out of range: ${expected}, got ${show(s)}` });
      return z.NEVER;
    }
    return ns;
  })
  .meta({ description: `milliseconds, 0 … ${MAX_DURATION_MS}` });

/** A non-empty string filter (exact match), at most {@link MAX_STRING_CHARS} characters. */
export const stringFilter = z
  .string()
  .min(1, { message: 'must not be empty; omit the parameter instead' })
  .max(MAX_STRING_CHARS, { message: `at most ${MAX_STRING_CHARS} characters` });

/** An opaque cursor string (decoded and range-checked by the route, query-api/cursor.ts). */
export const cursorParam = z
  .string()
  .min(1, { message: 'must not be empty; omit it for the first page' })
  .max(MAX_CURSOR_CHARS, { message: 'not a valid cursor (too long); pass next_cursor from the previous page unchanged' })
  .meta({ description: 'next_cursor of the previous page' });

/** A 32-hex W3C trace id (any case) → lowercase. */
export const traceIdParam = z
  .string()
  .regex(/^[0-9a-fA-F]{32}$/, { message: 'expected 32 hex characters (a W3C trace id)' })
  .transform((s) => s.toLowerCase());

/** Default window when `from` is absent: 1 h before `to`. */
export const DEFAULT_WINDOW_NS = 3_600_000_000_000n;

/**
 * Resolve from/to (ns): to defaults to now, from to `to − 1 h` (not before 1970).
 * @param from parsed `from` (already within [1970, 2100]) or undefined.
 * @param to parsed `to` or undefined.
 * @param nowMs epoch ms of "now" (default Date.now()).
 * @throws ValidationError `from` when from ≥ to; `to` when only `to` was given and it is 1970-01-01T00:00:00Z.
 */
export function resolveWindow(
  from: bigint | undefined,
  to: bigint | undefined,
  nowMs: number = Date.now(),
): { from: bigint; to: bigint } {
  const now = BigInt(Math.floor(nowMs)) * 1_000_000n;
  const end = to ?? (now < TIME_MAX_NS ? now : TIME_MAX_NS);
  const start = from ?? (end - DEFAULT_WINDOW_NS > TIME_MIN_NS ? end - DEFAULT_WINDOW_NS : TIME_MIN_NS);
  if (start >= end) {
    if (from === undefined) throw new ValidationError('to', `must be later than ${TIME_MIN_ISO}`);
    throw new ValidationError('from', 'must be earlier than to; swap them or widen the window');
  }
  return { from: start, to: end };
}

const MAX_NAMED_KEYS = 5;

/**
 * Parameters that may be given more than once (`?filter=a&filter=b`): their
 * zod schema takes a string or an array of strings ({@link repeatedParam}).
 */
const REPEATABLE = new Set(['filter']);

/**
 * A parameter that may be repeated (`?filter=a&filter=b`): each value a
 * non-empty string of at most `maxChars` characters, at most `max` values
 * → string[] (empty when absent).
 */
export function repeatedParam(max: number, maxChars: number, what: string) {
  const item = z
    .string()
    .min(1, { message: 'must not be empty; omit the parameter instead' })
    .max(maxChars, { message: `at most ${maxChars} characters` });
  return z
    .union([item, z.array(item).max(max, { message: `at most ${max} ${what}; combine fewer` })])
    .optional()
    .transform((v): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
}

/**
 * Parse a querystring (or params) object with a zod schema.
 * @returns the parsed value.
 * @throws ValidationError naming the first bad parameter (dotted path) with the reason and
 *   accepted form; unknown parameters are named too (cut to 64 characters, at most 5), with
 *   the list of accepted ones; a parameter given more than once is refused.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const shape = schema instanceof z.ZodObject ? (schema.shape as Record<string, unknown>) : undefined;
  const obj = (input ?? {}) as Record<string, unknown>;
  if (shape !== undefined && typeof obj === 'object') {
    for (const name of Object.keys(shape)) {
      if (Object.hasOwn(obj, name) && Array.isArray(obj[name]) && !REPEATABLE.has(name)) {
        throw new ValidationError(name, 'given more than once; pass it once');
      }
    }
  }
  const r = schema.safeParse(obj);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const accepted = shape === undefined || Object.keys(shape).length === 0 ? '(none)' : Object.keys(shape).join(', ');
    const named = issue.keys.slice(0, MAX_NAMED_KEYS).map((k) => (k === '' ? '(empty name)' : k.length > 64 ? `${k.slice(0, 64)}…` : k));
    const more = issue.keys.length > MAX_NAMED_KEYS ? ` (and ${issue.keys.length - MAX_NAMED_KEYS} more)` : '';
    throw new ValidationError(`${named.join(', ')}${more}`, `unknown parameter; accepted parameters are: ${accepted}`);
  }
  let message = issue.message;
  let path = issue.path;
  if (issue.code === 'invalid_union') {
    // A repeatable parameter: report the single-value form's problem, or the list's.
    const list = issue.errors.find((e) => e.length > 0 && e[0]!.code !== 'invalid_type');
    const inner = (list ?? issue.errors.find((e) => e.length > 0))?.[0];
    if (inner !== undefined) {
      message = inner.message;
      path = [...issue.path, ...inner.path.filter((p) => typeof p === 'string')];
    }
  }
  if (issue.code === 'invalid_value') {
    message = `expected one of ${issue.values.map((v) => String(v)).join(' | ')}`;
  } else if (issue.code === 'invalid_type') {
    message = `expected a single ${issue.expected} value`;
  }
  throw new ValidationError(path.map(String).join('.') || 'query', message);
}

/**
 * JSON Schema (for OpenAPI docs) of a zod object, input side. Validation itself is
 * done by zod in the handlers (Fastify's validator is a no-op in this app).
 */
export function docSchema(schema: z.ZodType): Record<string, unknown> {
  const js = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete js.$schema;
  return js;
}

/** How empty buckets of a time series are answered: `none` leaves them out, `zero` fills counts and sums with 0, `null` with null. */
export const fillParam = z
  .enum(['none', 'zero', 'null'])
  .optional()
  .transform((f) => f ?? 'none')
  .meta({ description: 'empty buckets: none (left out, default), zero (counts and sums 0; quantiles and averages null) or null (every value null); filled with ClickHouse WITH FILL' });
export type Fill = 'none' | 'zero' | 'null';

/** Most buckets one time-series request may ask for ((to − from) / step). */
export const MAX_SERIES_BUCKETS = 1440;
/** Largest bucket width, seconds (31 days). */
export const MAX_SERIES_STEP_SECONDS = 31 * 86_400;

const STEP_FORM = 'seconds, a multiple of 60 (60, 300, 3600 …)';
/** `step`: bucket width in seconds, a multiple of 60 in [60, 31 d]; default 60. */
export const stepParam = intParam(60, MAX_SERIES_STEP_SECONDS, STEP_FORM)
  .refine((s) => s % 60 === 0, { message: `expected ${STEP_FORM}` })
  .optional()
  .transform((s) => s ?? 60)
  .meta({ description: `bucket width in seconds, multiple of 60, 60 … ${MAX_SERIES_STEP_SECONDS}; default 60` });

/**
 * The bucketed window of a time-series request. Buckets are aligned to
 * multiples of `step` seconds since the Unix epoch (UTC): the first bucket is
 * the one containing `from` (from aligned down), the window ends at `to`
 * rounded up to the minute (exclusive).
 * @param from resolved window start, ns; @param to resolved end, ns; @param step s (multiple of 60).
 * @returns fromSec, toSec (epoch s) and the bucket count.
 * @throws ValidationError (step) when the window holds more than {@link MAX_SERIES_BUCKETS} buckets, naming the smallest step that fits.
 */
export function alignWindow(from: bigint, to: bigint, step: number): { fromSec: number; toSec: number; buckets: number } {
  const rawFrom = Number(from / 1_000_000_000n);
  const toSec = Math.ceil(Number((to + 999_999_999n) / 1_000_000_000n) / 60) * 60;
  const bucketsFor = (s: number): number => Math.ceil((toSec - Math.floor(rawFrom / s) * s) / s);
  const buckets = bucketsFor(step);
  if (buckets > MAX_SERIES_BUCKETS) {
    let minStep = Math.ceil((toSec - rawFrom) / MAX_SERIES_BUCKETS / 60) * 60;
    while (minStep <= MAX_SERIES_STEP_SECONDS && bucketsFor(minStep) > MAX_SERIES_BUCKETS) minStep += 60;
    const fix =
      minStep <= MAX_SERIES_STEP_SECONDS
        ? `use step=${minStep} or larger, or narrow from/to`
        : `narrow from/to to at most ${Math.floor((MAX_SERIES_BUCKETS - 1) * (MAX_SERIES_STEP_SECONDS / 86_400))} days (step ≤ ${MAX_SERIES_STEP_SECONDS})`;
    throw new ValidationError('step', `${buckets} buckets exceed the limit of ${MAX_SERIES_BUCKETS}; ${fix}`);
  }
  return { fromSec: Math.floor(rawFrom / step) * step, toSec, buckets };
}

/**
 * Wrap a time-series query so that empty buckets are filled (ClickHouse
 * `ORDER BY grp, t_s WITH FILL`): every group present in the answer gets a
 * row for every bucket of [fill_from, fill_to). Filled rows carry
 * `present = 0` (real rows 1) and the column defaults (0, '' or NULL for
 * Nullable columns); the caller turns their values into 0 or null.
 * @param inner a query returning `t_s` (UInt32 epoch s, a multiple of step) and `grp` columns.
 * @returns SQL with placeholders {fill_from:UInt32}, {fill_to:UInt32}, {fill_step:UInt32},
 *   {fill_limit:UInt32}, ordered by t_s then grp; `inner` unchanged for fill=none.
 */
export function fillSql(inner: string, fill: Fill): string {
  if (fill === 'none') return inner;
  return `
SELECT * FROM (
  SELECT * FROM (SELECT *, toUInt8(1) AS present FROM (${inner}))
  ORDER BY grp, t_s WITH FILL FROM {fill_from:UInt32} TO {fill_to:UInt32} STEP {fill_step:UInt32}
)
ORDER BY t_s, grp
LIMIT {fill_limit:UInt32}`;
}

/** Values of the placeholders of {@link fillSql}; `limit` bounds the answer's rows. */
export function fillParams(fromSec: number, toSec: number, step: number, limit: number): Record<string, number> {
  return { fill_from: fromSec, fill_to: toSec, fill_step: step, fill_limit: limit };
}

/**
 * A USD amount rounded to 1e-9 USD (nano-dollars) for JSON answers, so sums
 * of floats do not show binary noise (0.30000000000000004 → 0.3).
 */
export function roundUsd(usd: number): number {
  return Math.round(usd * 1e9) / 1e9;
}
