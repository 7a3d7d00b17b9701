-- 5-minute rollup of the series aggregates (issue 6): span_metrics_5m, same
-- columns as span_metrics_1m, where `minute` is the first minute of the
-- 5-minute block (toStartOfFiveMinutes). Measured with bench:query at 100M
-- spans/day (bench/README.md): merging DDSketch bins (sumMap) dominates the
-- latency queries, and their cost follows the number of rows merged. With
-- this tier the query API reads whole 5-minute blocks from here when step is
-- a multiple of 300 s (5 × fewer rows than minutes: a 24 h series at 5-minute
-- steps; the unaligned tail of a "last 24 h" window at hourly steps), whole
-- hours from span_metrics_1h, and only the rest from minutes — with the same
-- answers, since DDSketch bins merge exactly by summing (Masson, Rim, Lee,
-- "DDSketch", PVLDB 12(12), 2019).
--
-- Sorted by series, then time (256-row granules), like span_metrics_1h (0008),
-- so a filtered query reads about its own rows. Filled by a materialized view
-- from every insert into span_metrics_1m (exactly-once as for 0005: a replayed
-- minute insert is dropped before the view; the view's own inserts are
-- deduplicated by token, hence non_replicated_deduplication_window). Existing
-- minutes are rolled up first, with the processors stopped (as for 0004).
DROP TABLE IF EXISTS {{database}}.span_metrics_5m;

CREATE TABLE {{database}}.span_metrics_5m
(
    tenant LowCardinality(String),
    minute DateTime('UTC'),
    service LowCardinality(String),
    operation LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
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
ORDER BY (tenant, service, operation, model, provider, minute)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 256;

INSERT INTO {{database}}.span_metrics_5m
SELECT tenant, toStartOfFiveMinutes(minute) AS five, service, operation, model, provider,
    sum(count), sum(error_count), sum(duration_sum_ns),
    sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count), sumMap(sketch_bins), sum(sketch_zero)
FROM {{database}}.span_metrics_1m
GROUP BY tenant, five, service, operation, model, provider
SETTINGS optimize_aggregation_in_order = 1;

-- (The view aliases the block start `minute`, as the target column is named;
-- the inner query keeps the source column out of its scope.)
CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.span_metrics_5m_mv TO {{database}}.span_metrics_5m AS
SELECT tenant, five AS minute, service, operation, model, provider,
    sum(count) AS count, sum(error_count) AS error_count, sum(duration_sum_ns) AS duration_sum_ns,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cost_usd) AS cost_usd, sum(unpriced_count) AS unpriced_count,
    sumMap(sketch_bins) AS sketch_bins, sum(sketch_zero) AS sketch_zero
FROM
(
    SELECT tenant, toStartOfFiveMinutes(minute) AS five, service, operation, model, provider,
        count, error_count, duration_sum_ns, input_tokens, output_tokens, cached_tokens,
        cost_usd, unpriced_count, sketch_bins, sketch_zero
    FROM {{database}}.span_metrics_1m
)
GROUP BY tenant, five, service, operation, model, provider;
