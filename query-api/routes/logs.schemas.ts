/**
 * Request schema (zod) and response shape of GET /api/v1/logs.
 */
import { z } from 'zod';
import { FILTER_DOC, MAX_FILTER_CHARS, MAX_FILTERS } from '../filters.js';
import { cursorParam, docSchema, limitParam, repeatedParam, show, stringFilter, timeParam, traceIdParam } from '../params.js';

/** OTel severity names → the lowest SeverityNumber of that range. */
export const SEVERITY_MIN: Record<string, number> = {
  trace: 1,
  debug: 5,
  info: 9,
  warn: 13,
  warning: 13,
  error: 17,
  fatal: 21,
};

/** `severity`: a name (trace|debug|info|warn|error|fatal, any case) or a number 1–24 → min SeverityNumber. */
export const severityParam = z
  .string()
  .transform((s, ctx) => {
    const t = s.trim().toLowerCase();
    if (/^\d{1,2}$/.test(t) && Number(t) >= 1 && Number(t) <= 24) return Number(t);
    const n = Object.hasOwn(SEVERITY_MIN, t) ? SEVERITY_MIN[t] : undefined;
    if (n !== undefined) return n;
    ctx.addIssue({
      code: 'custom',
      message: `expected trace|debug|info|warn|error|fatal or a SeverityNumber 1-24, got ${show(s)}`,
    });
    return z.NEVER;
  })
  .meta({ description: 'minimum severity: name or SeverityNumber 1-24' });

/** Query of GET /api/v1/logs. */
export const LogListQuery = z.strictObject({
  from: timeParam.optional().meta({ description: 'window start (inclusive); default to − 1 h' }),
  to: timeParam.optional().meta({ description: 'window end (exclusive); default now' }),
  severity: severityParam.optional(),
  service: stringFilter.optional(),
  trace_id: traceIdParam.optional(),
  q: stringFilter.optional().meta({ description: 'text contained in body (case-insensitive)' }),
  filter: repeatedParam(MAX_FILTERS, MAX_FILTER_CHARS, 'filters').meta({ description: `${FILTER_DOC} (log record attributes; resource.<key> for resource attributes)` }),
  limit: limitParam(100, 1000),
  cursor: cursorParam.optional(),
});
export type LogListQuery = z.output<typeof LogListQuery>;

/** One log record. `time` is ISO-8601 UTC with ns. */
export interface LogRecord {
  time: string;
  time_unix_nano: string;
  severity_text: string;
  severity_number: number;
  /**
   * The body with its OTLP type (issue 8): a string, a number, a boolean, a
   * JSON object (kvlist) or array, bytes as a base64 string ('' when empty).
   */
  body: unknown;
  /** The body's AnyValue member: string, int, double, bool, bytes, array, kvlist or empty. */
  body_type: string;
  service: string;
  trace_id: string;
  span_id: string;
  /** Attribute values with their OTLP type, as in the trace API's spans. */
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
  /** LogRecord.event_name ('' when none). */
  event_name: string;
  /** LogRecord.flags (W3C trace flags). */
  flags: number;
  /** Attributes the sender dropped, as it reported them. */
  dropped_attributes_count: number;
}

export const logListDoc = {
  summary: 'Search log records, newest first',
  description:
    'Records in [from, to) matching every filter. Paginate with cursor = next_cursor (null at the end). ' +
    'body is the record body as its JSON value (a kvlist as an object, an array as an array, an int as a number, bytes as base64), body_type names its kind. ' +
    'Attribute values keep their OTLP type: strings, numbers (int64 beyond 2^53 as a decimal string; NaN / ±Infinity as "NaN" / "Infinity" / "-Infinity"), booleans, arrays and kvlists as JSON arrays / objects, bytes as base64 strings, an empty value as null. ' +
    'Errors: 400 VIGIL_ERR_VALIDATION, 401 VIGIL_ERR_UNAUTHORIZED.',
  tags: ['logs'],
  security: [{ bearer: [] }],
  querystring: docSchema(LogListQuery),
};
