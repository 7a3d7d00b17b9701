-- Per-minute aggregates of feature-flag evaluations (issue 10), the source of
-- GET /api/v1/experiments/:flag. The processors (processors/flag-variants.ts)
-- find spans that evaluate a flag with a variant — OpenTelemetry semantic
-- conventions for feature flags: span event `feature_flag.evaluation` with
-- `feature_flag.key` and `feature_flag.result.variant`, or span attributes
-- `feature_flag.key` + `feature_flag.result.variant` (older
-- `feature_flag.variant`) — and insert one partial row per
-- (tenant, minute, flag, variant, service, operation = span name) and batch.
-- Each evaluating span is one request of its variant; its own duration, status
-- and LLM cost/tokens are what is summed (not its trace's: the processors never
-- see a whole trace).
--
--   count                spans that evaluated the flag with this variant
--   error_count          of them with status 'error'
--   duration_sum_ns      Σ duration, ns (exact, UInt64)
--   duration_sq_sum_ms2  Σ duration², ms² (Float64; with count and the sum
--                        gives the sample variance for Welch's t-test)
--   cost_usd             Σ cost of the span, USD (unpriced spans count 0)
--   cost_sq_sum_usd2     Σ cost², USD² (variance of cost per request)
--   unpriced_count       spans with a model but no known price
--   input/output/cached_tokens  Σ GenAI token counts of the span
--   sketch_bins/_zero    DDSketch of durations in ms, 1 % relative accuracy,
--                        logarithmic mapping (Masson, Rim, Lee: "DDSketch",
--                        PVLDB 12(12), 2019), as in span_metrics_1m: summing
--                        bins of equal index merges sketches exactly.
--
-- AggregatingMergeTree of partial rows (SimpleAggregateFunction sum / sumMap):
-- readers always GROUP BY and merge with the same functions. Sorted by
-- (tenant, flag, minute, …) rather than (tenant, minute, flag, …): the one
-- reader asks for one flag over a time range, so the flag comes before time
-- and a read touches only that flag's granules; the set of key columns — what
-- rows merge — is the same either way. Inserts carry dedup tokens like the
-- other processor tables (non_replicated_deduplication_window), so a replayed
-- batch is stored once.
CREATE TABLE IF NOT EXISTS {{database}}.flag_variant_metrics_1m
(
    tenant LowCardinality(String),
    minute DateTime('UTC'),
    flag LowCardinality(String),
    variant LowCardinality(String),
    service LowCardinality(String),
    operation LowCardinality(String),
    count SimpleAggregateFunction(sum, UInt64),
    error_count SimpleAggregateFunction(sum, UInt64),
    duration_sum_ns SimpleAggregateFunction(sum, UInt64),
    duration_sq_sum_ms2 SimpleAggregateFunction(sum, Float64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    cost_sq_sum_usd2 SimpleAggregateFunction(sum, Float64),
    unpriced_count SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cached_tokens SimpleAggregateFunction(sum, UInt64),
    sketch_bins SimpleAggregateFunction(sumMap, Map(Int32, UInt64)),
    sketch_zero SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, flag, minute, variant, service, operation)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;
