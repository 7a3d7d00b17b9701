-- Hourly rollups of the minute aggregates (issue 6), for long ranges:
--   span_metrics_1h     per (tenant, hour, service, operation, model, provider), with sketches
--   span_user_costs_1h  per (tenant, hour, service, model, provider, user_id)
-- Same columns and merge functions as the minute tables (`hour` instead of
-- `minute`); DDSketch bins of one series summed over the hour's minutes, which
-- is an exact merge (Masson, Rim, Lee: "DDSketch", PVLDB 12(12), 2019).
--
-- Materialized views fill them from every insert into the minute tables, so
-- the processors write the minute tables only. Exactly-once holds for the
-- rollups too: a replayed minute insert (same insert_deduplication_token) is
-- dropped before it reaches the views, and with
-- deduplicate_blocks_in_dependent_materialized_views (on by default) a retried
-- insert whose view insert failed half way is deduplicated in the rollup by its
-- own token, hence non_replicated_deduplication_window here as well.
--
-- Existing minute rows are rolled up first, then the views are created, with
-- the processors stopped (as for 0004). Statements before the views can be
-- re-run after a failure.
DROP TABLE IF EXISTS {{database}}.span_metrics_1h;

CREATE TABLE {{database}}.span_metrics_1h
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
ORDER BY (tenant, hour, service, operation, model, provider)
TTL hour + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 256;

DROP TABLE IF EXISTS {{database}}.span_user_costs_1h;

CREATE TABLE {{database}}.span_user_costs_1h
(
    tenant LowCardinality(String),
    hour DateTime('UTC'),
    service LowCardinality(String),
    model LowCardinality(String),
    provider LowCardinality(String),
    user_id String,
    count SimpleAggregateFunction(sum, UInt64),
    input_tokens SimpleAggregateFunction(sum, UInt64),
    output_tokens SimpleAggregateFunction(sum, UInt64),
    cached_tokens SimpleAggregateFunction(sum, UInt64),
    cost_usd SimpleAggregateFunction(sum, Float64),
    unpriced_count SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant, hour, service, model, provider, user_id)
TTL hour + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {{database}}.span_metrics_1h
SELECT tenant, toStartOfHour(minute) AS hour, service, operation, model, provider,
    sum(count), sum(error_count), sum(duration_sum_ns),
    sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count), sumMap(sketch_bins), sum(sketch_zero)
FROM {{database}}.span_metrics_1m
GROUP BY tenant, hour, service, operation, model, provider;

INSERT INTO {{database}}.span_user_costs_1h
SELECT tenant, toStartOfHour(minute) AS hour, service, model, provider, user_id,
    sum(count), sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count)
FROM {{database}}.span_user_costs_1m
GROUP BY tenant, hour, service, model, provider, user_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.span_metrics_1h_mv TO {{database}}.span_metrics_1h AS
SELECT tenant, toStartOfHour(minute) AS hour, service, operation, model, provider,
    sum(count) AS count, sum(error_count) AS error_count, sum(duration_sum_ns) AS duration_sum_ns,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, sum(cached_tokens) AS cached_tokens,
    sum(cost_usd) AS cost_usd, sum(unpriced_count) AS unpriced_count,
    sumMap(sketch_bins) AS sketch_bins, sum(sketch_zero) AS sketch_zero
FROM {{database}}.span_metrics_1m
GROUP BY tenant, hour, service, operation, model, provider;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{database}}.span_user_costs_1h_mv TO {{database}}.span_user_costs_1h AS
SELECT tenant, toStartOfHour(minute) AS hour, service, model, provider, user_id,
    sum(count) AS count, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens, sum(cost_usd) AS cost_usd, sum(unpriced_count) AS unpriced_count
FROM {{database}}.span_user_costs_1m
GROUP BY tenant, hour, service, model, provider, user_id;
