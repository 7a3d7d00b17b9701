-- Raw spans. Tenant first in the sorting key; DateTime64(9) times (ns);
-- resource and span attributes as maps; bloom-filter skip index on trace_id;
-- TTL from {{retention_days}}. non_replicated_deduplication_window enables
-- insert_deduplication_token on this non-replicated MergeTree, so a replayed
-- insert batch (same token) is dropped instead of duplicated.
CREATE TABLE IF NOT EXISTS {{database}}.spans
(
    tenant LowCardinality(String),
    trace_id String,
    span_id String,
    parent_span_id String,
    name LowCardinality(String),
    kind LowCardinality(String),
    service LowCardinality(String),
    start_time DateTime64(9, 'UTC'),
    end_time DateTime64(9, 'UTC'),
    duration_ns UInt64,
    status_code LowCardinality(String),
    status_message String,
    scope_name LowCardinality(String),
    scope_version LowCardinality(String),
    resource_attributes Map(LowCardinality(String), String),
    attributes Map(LowCardinality(String), String),
    events String,
    model LowCardinality(String),
    provider LowCardinality(String),
    user_id String,
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Nullable(Float64),
    unpriced UInt8,
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_duration duration_ns TYPE minmax GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(start_time)
ORDER BY (tenant, service, name, start_time)
TTL toDateTime(start_time) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;
