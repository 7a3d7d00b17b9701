/**
 * Shared query-string parameters of the query API, parsed by zod.
 *
 * Parsing failures become {@link ValidationError} (VIGIL_ERR_VALIDATION, 400)
 * naming the parameter and the fix, e.g.
 * `from: expected ISO-8601 (2026-01-01T00:00:00Z) or epoch milliseconds, got "yesterday"`.
 */
import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';
import { msToNs } from '../schemas/time.js';

const ISO_RE =
  /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Parse a time parameter to ns since the Unix epoch.
 * @param s ISO-8601 with a zone (`2026-01-01T10:00:00.123456789Z`, up to ns precision)
 *   or epoch milliseconds (`1767261600000`, may be fractional; values before 1973-03-03,
 *   i.e. < 1e11, are refused as probable epoch seconds).
 * @returns bigint ns, or undefined when `s` is neither form.
 */
export function parseTimeNs(s: string): bigint | undefined {
  const t = s.trim();
  if (/^\d{1,16}(\.\d+)?$/.test(t)) {
    const ms = Number(t);
    // Epoch seconds passed by mistake land in 1970; refuse rather than silently return nothing.
    return ms < 100_000_000_000 ? undefined : msToNs(ms);
  }
  const m = ISO_RE.exec(t);
  if (!m) return undefined;
  const hms = m[2]!.length === 5 ? `${m[2]}:00` : m[2]!;
  const zone = m[4] === 'Z' ? 'Z' : m[4]!.replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const secMs = Date.parse(`${m[1]}T${hms}${zone}`);
  if (Number.isNaN(secMs) || secMs < 0) return undefined;
  return BigInt(secMs) * 1_000_000n + BigInt((m[3] ?? '').padEnd(9, '0'));
}

/** ns since epoch → ISO-8601 UTC with 9 fractional digits ('2026-01-01T10:00:00.123456789Z'). */
export function nsToIso(ns: bigint): string {
  const iso = new Date(Number(ns / 1_000_000n)).toISOString();
  return `${iso.slice(0, 19)}.${(ns % 1_000_000_000n).toString().padStart(9, '0')}Z`;
}

/** A time parameter (ISO-8601 or epoch ms) → bigint ns. */
export const timeParam = z
  .string()
  .transform((s, ctx) => {
    const ns = parseTimeNs(s);
    if (ns === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected ISO-8601 with a zone (2026-01-01T00:00:00Z) or epoch milliseconds (13 digits, not seconds), got ${JSON.stringify(s)}`,
      });
      return z.NEVER;
    }
    return ns;
  })
  .meta({ description: 'ISO-8601 with zone, or epoch milliseconds' });

/** Page size 1..max (default `def`). */
export function limitParam(def: number, max: number) {
  return z.coerce
    .number({ message: `expected an integer between 1 and ${max}` })
    .int({ message: `expected an integer between 1 and ${max}` })
    .min(1, { message: `expected an integer between 1 and ${max}` })
    .max(max, { message: `at most ${max}; page with next_cursor for more` })
    .default(def);
}

/** A non-negative duration in ms (fractional allowed). */
export const durationMsParam = z.coerce
  .number({ message: 'expected a number of milliseconds ≥ 0' })
  .min(0, { message: 'expected a number of milliseconds ≥ 0' });

/** A non-empty string filter (exact match), at most 512 chars. */
export const stringFilter = z
  .string()
  .min(1, { message: 'must not be empty; omit the parameter instead' })
  .max(512, { message: 'at most 512 characters' });

/** Default window when `from` is absent: 1 h before `to`. */
export const DEFAULT_WINDOW_NS = 3_600_000_000_000n;

/**
 * Resolve from/to (ns): to defaults to now, from to `to - 1 h`.
 * @throws ValidationError `from` when from ≥ to.
 */
export function resolveWindow(from: bigint | undefined, to: bigint | undefined): { from: bigint; to: bigint } {
  const end = to ?? msToNs(Date.now());
  const start = from ?? end - DEFAULT_WINDOW_NS;
  if (start >= end) throw new ValidationError('from', 'must be earlier than to; swap them or widen the window');
  return { from: start, to: end };
}

/**
 * Parse a querystring (or params) object with a zod schema.
 * @returns the parsed value.
 * @throws ValidationError naming the first bad parameter (dotted path) with the reason and fix;
 *   unknown parameters are named too, with the list of accepted ones.
 */
export function parseParams<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const accepted = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : '';
    throw new ValidationError(
      issue.keys.join(', '),
      `unknown parameter; accepted parameters are: ${accepted}`,
    );
  }
  let message = issue.message;
  if (issue.code === 'invalid_value') {
    message = `expected one of ${issue.values.map((v) => String(v)).join(' | ')}`;
  }
  throw new ValidationError(issue.path.map(String).join('.') || 'query', message);
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
