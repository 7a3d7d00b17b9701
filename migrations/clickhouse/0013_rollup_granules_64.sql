-- 64-row granules for both sketch rollups (issue 6), replacing 0012's 8 (1h)
-- and 32 (5m). An interleaved A/B at 100M spans/day (bench:query data, 30
-- runs each, bench/README.md) showed the finer granules slower, not faster:
-- many tiny marks point into the same compressed blocks, so a windowed read
-- decompresses blocks again and again. Process CPU per query, medians:
--   last 24 h by service, hourly steps:  8/32 → 74 ms, 64/256 → 66 ms, 64/64 → 53 ms
--   7 days of one operation, hourly:     8/32 → 35 ms, 64/256 → 28 ms, 64/64 → 28 ms
-- Rebuilt as in 0008/0012: views dropped, rows copied, old tables dropped,
-- views re-created (processors stopped). Re-runnable up to each DROP TABLE.
DROP VIEW IF EXISTS {{database}}.span_metrics_1h_mv;

DROP TABLE IF EXISTS {{database}}.span_metrics_1h_next;

CREATE TABLE {{database}}.span_metrics_1h_next
(
    tenant LowCardinality(String),
    hour DateTime('UTC'),
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
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, service, operation, model, provider, hour)
TTL hour + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 64;

INSERT INTO {{database}}.span_metrics_1h_next
SELECT tenant, hour, service, operation, model, provider,
    sum(count), sum(error_count), sum(duration_sum_ns),
    sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count), sumMap(sketch_bins), sum(sketch_zero)
FROM {{database}}.span_metrics_1h
GROUP BY tenant, hour, service, operation, model, provider;

DROP TABLE {{database}}.span_metrics_1h;

RENAME TABLE {{database}}.span_metrics_1h_next TO {{database}}.span_metrics_1h;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.span_metrics_1h_mv TO {{database}}.span_metrics_1h AS
SELECT tenant, toStartOfHour(minute) AS hour, service, operation, model, provider,
    sum(count) AS count, sum(error_count) AS error_count, sum(duration_sum_ns) AS duration_sum_ns,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cost_usd) AS cost_usd, sum(unpriced_count) AS unpriced_count,
    sumMap(sketch_bins) AS sketch_bins, sum(sketch_zero) AS sketch_zero
FROM {{database}}.span_metrics_1m
GROUP BY tenant, hour, service, operation, model, provider;

DROP VIEW IF EXISTS {{database}}.span_metrics_5m_mv;

DROP TABLE IF EXISTS {{database}}.span_metrics_5m_next;

CREATE TABLE {{database}}.span_metrics_5m_next
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
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 64;

INSERT INTO {{database}}.span_metrics_5m_next
SELECT tenant, minute, service, operation, model, provider,
    sum(count), sum(error_count), sum(duration_sum_ns),
    sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count), sumMap(sketch_bins), sum(sketch_zero)
FROM {{database}}.span_metrics_5m
GROUP BY tenant, minute, service, operation, model, provider;

DROP TABLE {{database}}.span_metrics_5m;

RENAME TABLE {{database}}.span_metrics_5m_next TO {{database}}.span_metrics_5m;

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
