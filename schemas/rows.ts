/**
 * ClickHouse row shapes (JSONEachRow), one interface per table in
 * migrations/clickhouse. DateTime64(9) values are written as
 * 'YYYY-MM-DD hh:mm:ss.nnnnnnnnn' UTC strings produced by `nsToClickHouse`
 * (schemas/time.ts), which both chDB and a ClickHouse server parse without loss.
 */

/** vigil.spans — one row per span. */
export interface SpanRow {
  tenant: string;
  trace_id: string;
  span_id: string;
  /** '' for a root span. */
  parent_span_id: string;
  name: string;
  /** 'internal' | 'server' | 'client' | 'producer' | 'consumer' | 'unspecified' */
  kind: string;
  service: string;
  /** DateTime64(9) UTC string. */
  start_time: string;
  end_time: string;
  /** ns. */
  duration_ns: number;
  /** 'unset' | 'ok' | 'error' */
  status_code: string;
  status_message: string;
  scope_name: string;
  scope_version: string;
  resource_attributes: Record<string, string>;
  attributes: Record<string, string>;
  /** JSON array of {time_unix_nano, name, attributes}. */
  events: string;
  model: string;
  provider: string;
  user_id: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** USD; null when the model has no known price (then unpriced = 1). */
  cost_usd: number | null;
  unpriced: 0 | 1;
  // ---- Fidelity columns (migration 0007). Optional: a row without them gets the column defaults.
  /** W3C trace state of the span. */
  trace_state?: string;
  /** Span.flags (W3C trace flags bits 0–7, SPAN_FLAGS_CONTEXT_* bits 8–9). */
  flags?: number;
  dropped_attributes_count?: number;
  dropped_events_count?: number;
  dropped_links_count?: number;
  /** JSON array of {trace_id, span_id, trace_state, attributes (typed JSON values), dropped_attributes_count?, flags?}. */
  links?: string;
  /**
   * Type codes of the attributes whose value is not a string (migration 0016,
   * processors/normalize/attributes.ts ATTRIBUTE_TYPE: 1 int, 2 double,
   * 3 bool, 4 json, 5 empty); the values are the texts in `attributes`.
   */
  attributes_types?: Record<string, number>;
  resource_attributes_types?: Record<string, number>;
  /** Layout flag of migration 0016; always 1 (the only layout since 0018, whose column DEFAULT is 1 too). */
  attributes_format?: 1;
  resource_dropped_attributes_count?: number;
  resource_schema_url?: string;
  /** JSON object of the instrumentation scope's attributes (typed JSON values). */
  scope_attributes?: string;
  scope_dropped_attributes_count?: number;
  scope_schema_url?: string;
}

/** vigil.logs — one row per log record. */
export interface LogRow {
  tenant: string;
  /** DateTime64(9) UTC string. */
  time: string;
  observed_time: string;
  /** OTel SeverityNumber 0–24. */
  severity_number: number;
  severity_text: string;
  body: string;
  service: string;
  trace_id: string;
  span_id: string;
  scope_name: string;
  resource_attributes: Record<string, string>;
  attributes: Record<string, string>;
  // ---- Fidelity columns (migration 0007). Optional: a row without them gets the column defaults.
  /** AnyValue type of `body`: 'string' | 'int' | 'double' | 'bool' | 'bytes' (body base64) | 'array' | 'kvlist' (body JSON) | 'empty'. */
  body_type?: string;
  /** LogRecord.flags (W3C trace flags). */
  flags?: number;
  dropped_attributes_count?: number;
  /** LogRecord.event_name. */
  event_name?: string;
  scope_version?: string;
  /** JSON object of the scope's attributes (typed JSON values). */
  scope_attributes?: string;
  scope_dropped_attributes_count?: number;
  scope_schema_url?: string;
  resource_dropped_attributes_count?: number;
  resource_schema_url?: string;
  /**
   * Type codes of the attributes whose value is not a string (migration 0016,
   * processors/normalize/attributes.ts ATTRIBUTE_TYPE: 1 int, 2 double,
   * 3 bool, 4 json, 5 empty); the values are the texts in `attributes`.
   */
  attributes_types?: Record<string, number>;
  resource_attributes_types?: Record<string, number>;
  /** Layout flag of migration 0016; always 1 (the only layout since 0018, whose column DEFAULT is 1 too). */
  attributes_format?: 1;
}

/**
 * vigil.span_metrics_1m — partial per-minute aggregates per series (tenant,
 * minute, service, operation, model, provider), with a DDSketch of durations.
 * Rows of the same key are merged at query time with sum / sumMap (and in the
 * background by AggregatingMergeTree), so any minutes and series merge exactly.
 * Per-user figures are in {@link SpanUserCostRow}, not here (migration 0004).
 * The rollups span_metrics_5m (`minute` = first minute of the 5-minute block)
 * and span_metrics_1h (`hour` instead of `minute`) have the same columns;
 * materialized views fill them from this table (migrations 0005, 0011).
 */
export interface SpanMetricRow {
  tenant: string;
  /** DateTime UTC 'YYYY-MM-DD hh:mm:00'. */
  minute: string;
  service: string;
  /** Span name. */
  operation: string;
  /** gen_ai model ('' for spans that are not LLM calls). */
  model: string;
  provider: string;
  /** Spans. */
  count: number;
  /** Spans with status 'error'. */
  error_count: number;
  /** Sum of span durations, ns. */
  duration_sum_ns: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** USD, sum over priced spans only. */
  cost_usd: number;
  /** Spans whose model has no known price. */
  unpriced_count: number;
  /** DDSketch (1 % relative accuracy, logarithmic mapping) bin index → count, over durations in ms. */
  sketch_bins: Record<string, number>;
  /** Count of durations ≤ 0 (DDSketch zero bucket). */
  sketch_zero: number;
}

/**
 * vigil.span_user_costs_1m — partial per-minute LLM usage per (tenant, minute,
 * service, model, provider, user_id), without sketches (migration 0004). Every
 * span counts, also those without a user (user_id '') or a model (model '').
 * Merged with sum at query time. The hourly rollup span_user_costs_1h has the
 * same columns with `hour` instead of `minute` (materialized view, migration 0005).
 */
export interface SpanUserCostRow {
  tenant: string;
  /** DateTime UTC 'YYYY-MM-DD hh:mm:00'. */
  minute: string;
  service: string;
  model: string;
  provider: string;
  /** `user.id` / `enduser.id`; '' when absent. */
  user_id: string;
  /** Spans. */
  count: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** USD, sum over priced spans only. */
  cost_usd: number;
  /** Spans whose model has no known price. */
  unpriced_count: number;
}

/**
 * vigil.flag_variant_metrics_1m — partial per-minute aggregates of feature-flag
 * evaluations per (tenant, minute, flag, variant, service, operation), built by
 * processors/flag-variants.ts (migration 0015). One evaluating span = one
 * request of its variant; its own duration, status, cost and tokens are summed.
 * Merged with sum / sumMap at query time (flags/experiments.ts).
 */
export interface FlagVariantMetricRow {
  tenant: string;
  /** DateTime UTC 'YYYY-MM-DD hh:mm:00' (minute of the span's start). */
  minute: string;
  /** `feature_flag.key`. */
  flag: string;
  /** `feature_flag.result.variant` (older `feature_flag.variant`). */
  variant: string;
  service: string;
  /** Span name. */
  operation: string;
  /** Evaluating spans. */
  count: number;
  /** Of them with status 'error'. */
  error_count: number;
  /** Σ span duration, ns. */
  duration_sum_ns: number;
  /** Σ (span duration in ms)², ms². */
  duration_sq_sum_ms2: number;
  /** Σ span cost, USD (unpriced spans count 0). */
  cost_usd: number;
  /** Σ (span cost in USD)², USD². */
  cost_sq_sum_usd2: number;
  /** Spans whose model has no known price. */
  unpriced_count: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  /** DDSketch (1 % relative accuracy) bin index → count, over durations in ms. */
  sketch_bins: Record<string, number>;
  /** Count of durations ≤ 0 (DDSketch zero bucket). */
  sketch_zero: number;
}
