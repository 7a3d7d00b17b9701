/**
 * Request schemas (zod) and response shapes of the metrics routes
 * (GET /api/v1/metrics/latency, GET /api/v1/metrics/cost).
 */
import { z } from 'zod';
import { docSchema, fillParam, intParam, stringFilter, timeParam } from '../params.js';

/** Most buckets one request may ask for ((to − from) / step). */
export const MAX_BUCKETS = 1440;

/** group_by value → aggregate table column (user_id: span_user_costs_1m / _1h only). */
export const GROUP_COLUMNS = {
  service: 'service',
  operation: 'operation',
  model: 'model',
  provider: 'provider',
  user: 'user_id',
} as const;

/** Largest bucket width, seconds (31 days). */
export const MAX_STEP_SECONDS = 31 * 86_400;

/** Most points (buckets × groups) one answer may hold. */
export const MAX_POINTS = 50_000;

const STEP_FORM = 'seconds, a multiple of 60 (60, 300, 3600 …)';
const step = intParam(60, MAX_STEP_SECONDS, STEP_FORM)
  .refine((s) => s % 60 === 0, { message: `expected ${STEP_FORM}` })
  .optional()
  .transform((s) => s ?? 60)
  .meta({ description: `bucket width in seconds, multiple of 60, 60 … ${MAX_STEP_SECONDS}; default 60` });

const common = {
  from: timeParam.optional().meta({ description: 'window start; default to − 1 h; aligned down to step' }),
  to: timeParam.optional().meta({ description: 'window end (exclusive); default now; aligned up to the minute' }),
  step,
  fill: fillParam,
  service: stringFilter.optional(),
  operation: stringFilter.optional(),
  model: stringFilter.optional(),
  anomaly: z
    .enum(['true', 'false'], { error: 'expected true or false' })
    .optional()
    .meta({ description: 'true: add anomaly_score to each point (highest score of the matching series in the bucket, anomaly_scores; null if none)' }),
};

/** Query of GET /api/v1/metrics/latency. */
export const LatencyQuery = z.strictObject({
  ...common,
  group_by: z.enum(['service', 'operation', 'model']).optional(),
});
export type LatencyQuery = z.output<typeof LatencyQuery>;

/** Query of GET /api/v1/metrics/cost. */
export const CostQuery = z.strictObject({
  ...common,
  group_by: z.enum(['model', 'provider', 'service', 'user']).optional(),
});
export type CostQuery = z.output<typeof CostQuery>;

/**
 * One latency point (a RED sample): bucket start (ISO-8601 UTC), group value
 * (null without group_by), span count, spans with status error, quantiles in ms.
 */
export interface LatencyPoint {
  t: string;
  group: string | null;
  /** null only in a bucket filled with fill=null. */
  count: number | null;
  error_count: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  /** With anomaly=true: highest latency_p99_ms anomaly score in the bucket (0–1), null if none. */
  anomaly_score?: number | null;
}

/** One cost point: USD (priced spans only), token counts, unpriced and total span counts. */
export interface CostPoint {
  t: string;
  group: string | null;
  /** USD rounded to 1e-9; null when the bucket has unpriced LLM spans and no priced one (0 without LLM spans). */
  cost_usd: number | null;
  /** Token and span counts; null only in a bucket filled with fill=null. */
  input_tokens: number | null;
  output_tokens: number | null;
  cached_tokens: number | null;
  unpriced_spans: number | null;
  spans: number | null;
  /** With anomaly=true: highest cost_usd anomaly score (model series) in the bucket (0–1), null if none. */
  anomaly_score?: number | null;
}

const errorsDoc = `Errors: 400 VIGIL_ERR_VALIDATION (bad parameter, more than ${MAX_BUCKETS} buckets or ${MAX_POINTS} points), 400 VIGIL_ERR_QUERY_TOO_EXPENSIVE, 401 VIGIL_ERR_UNAUTHORIZED.`;

export const latencyDoc = {
  summary: 'Span latency quantiles per time bucket',
  description:
    'From span_metrics_1m only, with its rollups span_metrics_1h / span_metrics_5m for whole hours / 5-minute blocks when step is a multiple of 3600 / 300: ' +
    'DDSketch bins merged per bucket and group (1 % relative accuracy); error_count counts spans with status error. ' +
    'fill=zero|null fills empty buckets (WITH FILL; quantiles null there). ' +
    'Only buckets with spans are returned, ordered by t then group. ' + errorsDoc,
  tags: ['metrics'],
  security: [{ bearer: [] }],
  querystring: docSchema(LatencyQuery),
};

export const costDoc = {
  summary: 'LLM cost and tokens per time bucket',
  description:
    'From span_metrics_1m / span_metrics_1h; group_by=user from span_user_costs_1m / span_user_costs_1h, or from spans when ' +
    'also filtered by operation. Rollup tables serve whole hours / 5-minute blocks (series only) when step is a multiple of 3600 / 300. ' +
    'cost_usd sums priced spans (rounded to 1e-9 USD), null when the bucket has unpriced LLM spans and no priced one; unpriced_spans counts spans whose model has no known price. ' +
    'fill=zero|null fills empty buckets (WITH FILL). ' +
    'Only buckets with spans are returned, ordered by t then group. ' + errorsDoc,
  tags: ['metrics'],
  security: [{ bearer: [] }],
  querystring: docSchema(CostQuery),
};
