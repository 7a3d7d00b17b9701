-- Per-minute partial aggregates per series (tenant, service, operation, model,
-- provider, user). Each processor batch inserts one partial row per series and
-- minute; AggregatingMergeTree folds rows of one key in the background with the
-- same functions queries use (sum, sumMap), so reads always GROUP BY and merge.
-- sketch_bins: DDSketch bins (index -> count) over durations in ms, 1 % relative
-- accuracy, logarithmic mapping (Masson, Rim, Lee: "DDSketch", VLDB 2019);
-- summing bins of equal index merges sketches exactly.
CREATE TABLE IF NOT EXISTS {{database}}.span_metrics_1m
(
    tenant LowCardinality(String),
    minute DateTime('UTC'),
    service LowCardinality(String),
    operation LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    user_id String,
    count SimpleAggregateFunction(sum, UInt64),
    error_count SimpleAggregateFunction(sum, UInt64),
    duration_sum_ns SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cached_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    unpriced_count SimpleAggregateFunction(sum, UInt64),
    sketch_bins SimpleAggregateFunction(sumMap, Map(Int32, UInt64)),
    sketch_zero SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, minute, service, operation, model, provider, user_id)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000;
