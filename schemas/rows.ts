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
}

/**
 * vigil.span_metrics_1m — partial per-minute aggregates per series. Rows of the
 * same key are merged at query time with sum / sumMap (and in the background by
 * AggregatingMergeTree), so any minutes and series merge exactly.
 */
export interface SpanMetricRow {
  tenant: string;
  /** DateTime UTC 'YYYY-MM-DD hh:mm:00'. */
  minute: string;
  service: string;
  operation: string;
  model: string;
  provider: string;
  user_id: string;
  count: number;
  error_count: number;
  duration_sum_ns: number;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  unpriced_count: number;
  /** DDSketch (1 % relative accuracy, logarithmic mapping) bin index → count, over durations in ms. */
  sketch_bins: Record<string, number>;
  /** Count of durations ≤ 0 (DDSketch zero bucket). */
  sketch_zero: number;
}
