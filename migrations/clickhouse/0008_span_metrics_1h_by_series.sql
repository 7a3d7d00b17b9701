-- span_metrics_1h sorted by series, then hour (issue 6). 0005 sorted it by
-- (tenant, hour, …) like the minute table, so a long-range query for one
-- operation (a RED series over 7 days) read every series' sketch of every
-- hour in the range: 7× more rows than needed at 50 operations (measured with
-- bench:query, see bench/README.md). Sorted by
-- (tenant, service, operation, model, provider, hour) with 64-row granules, a
-- filter on service / operation / model reads about its own rows, and an
-- all-series query still reads about one granule per series and day.
--
-- The hourly table holds only rollups of span_metrics_1m, so it is rebuilt
-- from itself: the view is dropped, the rows are copied into the new table,
-- the old table is dropped and the view re-created (processors stopped, as for
-- 0004/0005). Re-runnable up to the DROP of the old table.
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
