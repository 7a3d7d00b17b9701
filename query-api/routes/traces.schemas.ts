/**
 * Request schemas (zod, validated in the handlers) and response shapes of the
 * trace routes. JSON Schemas for the OpenAPI document are derived from the zod
 * schemas with {@link docSchema}.
 */
import { z } from 'zod';
import { FILTER_DOC, MAX_FILTER_CHARS, MAX_FILTERS } from '../filters.js';
import { cursorParam, docSchema, durationMsParam, limitParam, repeatedParam, stringFilter, timeParam, traceIdParam } from '../params.js';

/** Query of GET /api/v1/traces. Every filter applies to one span; a trace matches if any span matches all. */
export const TraceListQuery = z
  .strictObject({
    service: stringFilter.optional().meta({ description: 'span service.name (exact)' }),
    operation: stringFilter.optional().meta({ description: 'span name (exact)' }),
    status: z.enum(['ok', 'error', 'unset']).optional(),
    min_duration_ms: durationMsParam.optional().meta({ description: 'span duration ≥ this, ms (0 … 31536000000)' }),
    max_duration_ms: durationMsParam.optional().meta({ description: 'span duration ≤ this, ms (0 … 31536000000)' }),
    from: timeParam.optional().meta({ description: 'window start (inclusive); default to − 1 h' }),
    to: timeParam.optional().meta({ description: 'window end (exclusive); default now' }),
    filter: repeatedParam(MAX_FILTERS, MAX_FILTER_CHARS, 'filters').meta({ description: `${FILTER_DOC}. A trace matches when one span matches every filter (span attributes) together with the other span filters` }),
    sort: z.enum(['start_time', 'duration', 'cost']).optional().transform((s) => s ?? 'start_time').meta({ description: 'start_time (earliest span start, default), duration (trace duration) or cost (total USD; traces without a priced span sort as cheapest)' }),
    order: z.enum(['desc', 'asc']).optional().transform((o) => o ?? 'desc').meta({ description: 'desc (default) or asc' }),
    limit: limitParam(50, 500),
    cursor: cursorParam.optional(),
  })
  .refine((q) => q.min_duration_ms === undefined || q.max_duration_ms === undefined || q.min_duration_ms <= q.max_duration_ms, {
    message: 'must be ≥ min_duration_ms',
    path: ['max_duration_ms'],
  });
export type TraceListQuery = z.output<typeof TraceListQuery>;

/** Path params of GET /api/v1/traces/:traceId. */
export const TraceParams = z.strictObject({ traceId: traceIdParam });

/** Query of GET /api/v1/traces/:traceId: none accepted. */
export const TraceGetQuery = z.strictObject({});

/** One trace in the list. Times: ISO-8601 UTC with ns; durations in ms. */
export interface TraceSummary {
  trace_id: string;
  /** Root span name (earliest span when no root was stored). */
  root_name: string;
  root_service: string;
  /** Earliest span start. */
  start: string;
  start_time_unix_nano: string;
  /** Latest span end − earliest span start, ms. */
  duration_ms: number;
  span_count: number;
  error_count: number;
  /** Distinct services, sorted. */
  services: string[];
  /**
   * Total LLM cost of the trace's spans, USD rounded to 1e-9: the sum over priced spans;
   * null when it has unpriced LLM spans and no priced one; 0 without LLM spans.
   */
  cost_usd: number | null;
  /** LLM spans whose model has no known price. */
  unpriced_spans: number;
  /** Token totals over the trace's spans. */
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
}

/** A span of a trace tree. cost_usd is null when unpriced. */
export interface SpanNode {
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  service: string;
  start: string;
  start_time_unix_nano: string;
  end: string;
  duration_ms: number;
  status: string;
  status_message: string;
  /**
   * Attribute values with their OTLP type (issue 8): strings, numbers (int64
   * beyond 2^53 as a decimal string; NaN / ±Infinity as "NaN" / "Infinity" /
   * "-Infinity"), booleans, arrays and kvlists as JSON arrays / objects, bytes
   * as base64 strings, an empty value as null.
   */
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
  /** [{time_unix_nano, name, attributes (typed as above), dropped_attributes_count?}] */
  events: unknown[];
  /** Span links: [{trace_id, span_id, trace_state, attributes (typed as above), dropped_attributes_count?, flags?}] */
  links: unknown[];
  /** W3C trace state of the span ('' when none). */
  trace_state: string;
  /** Span flags (W3C trace flags bits 0–7, SPAN_FLAGS_CONTEXT_* bits 8–9). */
  flags: number;
  /** Attributes, events and links the sender dropped (its limits), as it reported them. */
  dropped_attributes_count: number;
  dropped_events_count: number;
  dropped_links_count: number;
  model: string;
  provider: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number | null;
  unpriced: boolean;
  children: SpanNode[];
}

export const traceListDoc = {
  summary: 'List traces with per-trace totals, newest first (or by duration / cost)',
  description:
    'One entry per trace with at least one span in [from, to) matching every filter, with totals over all its spans: span and error counts, ' +
    'cost_usd (null when every LLM span is unpriced), tokens, root service and operation (root_name). sort=start_time|duration|cost, order=desc|asc; ' +
    'limit gives the top N. Paginate with cursor = next_cursor (null at the end) with the same sort and order. Errors: 400 VIGIL_ERR_VALIDATION, 401 VIGIL_ERR_UNAUTHORIZED.',
  tags: ['traces'],
  security: [{ bearer: [] }],
  querystring: docSchema(TraceListQuery),
};

export const traceGetDoc = {
  summary: 'One trace as a span tree',
  description:
    'Every span of the trace nested under `children` (ordered by start); spans whose parent is missing are roots. ' +
    'Attribute values keep their OTLP type: strings, numbers (int64 beyond 2^53 as a decimal string; NaN / ±Infinity as "NaN" / "Infinity" / "-Infinity"), booleans, arrays and kvlists as JSON arrays / objects, bytes as base64 strings, an empty value as null. ' +
    'Each span has its links ({trace_id, span_id, trace_state, attributes, dropped_attributes_count?, flags?}), trace_state, flags and dropped attribute / event / link counts. ' +
    'Errors: 400 VIGIL_ERR_VALIDATION (traceId), 404 VIGIL_ERR_NOT_FOUND, 401.',
  tags: ['traces'],
  security: [{ bearer: [] }],
  params: docSchema(TraceParams),
};
