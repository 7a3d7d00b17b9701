-- Aggregates that aggregate (issue 6). Until 0003, span_metrics_1m was keyed by
-- (tenant, minute, service, operation, model, provider, user_id) and every row
-- carried a DDSketch: with thousands of users almost every span became its own
-- row. From here on:
--
--   span_metrics_1m     per (tenant, minute, service, operation, model, provider):
--                       counts, durations, tokens, cost and the DDSketch bins of
--                       durations in ms (1 % relative accuracy, logarithmic
--                       mapping; Masson, Rim, Lee: "DDSketch", PVLDB 12(12),
--                       2019 — summing bins of equal index merges sketches exactly).
--   span_user_costs_1m  per (tenant, minute, service, model, provider, user_id):
--                       span count, tokens, cost, unpriced count; no sketch.
--
-- Both are AggregatingMergeTree tables of partial rows (SimpleAggregateFunction
-- sum / sumMap); readers always GROUP BY and merge with the same functions.
--
-- Existing rows are kept: both new tables are filled from the old table, then the
-- old table is renamed to span_metrics_1m_v1 (left in place, untouched, until its
-- TTL expires or an operator drops it) and the new one takes the name
-- span_metrics_1m. The backfill aggregates in the old table's sort order
-- (optimize_aggregation_in_order), so its memory stays bounded by one
-- (tenant, minute, service) group at a time whatever the table size.
--
-- Run with the processors stopped (vigil start and `vigil migrate` do): rows an
-- old processor inserts into the old table while this runs are not copied.
-- Statements before the RENAME can be re-run after a failure (the new tables are
-- dropped and re-created); the RENAME is the last statement.
DROP TABLE IF EXISTS {{database}}.span_metrics_1m_next;

CREATE TABLE {{database}}.span_metrics_1m_next
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
ORDER BY (tenant, minute, service, operation, model, provider)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 1024;

DROP TABLE IF EXISTS {{database}}.span_user_costs_1m;

CREATE TABLE {{database}}.span_user_costs_1m
(
    tenant LowCardinality(String),
    minute DateTime('UTC'),
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
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, minute, service, model, provider, user_id)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000;

INSERT INTO {{database}}.span_metrics_1m_next
SELECT tenant, minute, service, operation, model, provider,
    sum(count), sum(error_count), sum(duration_sum_ns),
    sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count), sumMap(sketch_bins), sum(sketch_zero)
FROM {{database}}.span_metrics_1m
GROUP BY tenant, minute, service, operation, model, provider
SETTINGS optimize_aggregation_in_order = 1;

INSERT INTO {{database}}.span_user_costs_1m
SELECT tenant, minute, service, model, provider, user_id,
    sum(count), sum(input_tokens), sum(output_tokens), sum(cached_tokens),
    sum(cost_usd), sum(unpriced_count)
FROM {{database}}.span_metrics_1m
GROUP BY tenant, minute, service, model, provider, user_id
SETTINGS optimize_aggregation_in_order = 1;

RENAME TABLE {{database}}.span_metrics_1m TO {{database}}.span_metrics_1m_v1, {{database}}.span_metrics_1m_next TO {{database}}.span_metrics_1m;
