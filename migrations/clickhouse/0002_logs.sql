-- Raw log records (OTel logs data model): time, severity, body, trace and
-- span ids, attributes. TTL from {{retention_days}}; insert deduplication as for spans.
CREATE TABLE IF NOT EXISTS {{database}}.logs
(
    tenant LowCardinality(String),
    time DateTime64(9, 'UTC'),
    observed_time DateTime64(9, 'UTC'),
    severity_number UInt8,
    severity_text LowCardinality(String),
    body String,
    service LowCardinality(String),
    trace_id String,
    span_id String,
    scope_name LowCardinality(String),
    resource_attributes Map(LowCardinality(String), String),
    attributes Map(LowCardinality(String), String),
    INDEX idx_trace_id trace_id TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_body body TYPE tokenbf_v1(32768, 3, 0) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (tenant, service, time)
TTL toDateTime(time) + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000;
