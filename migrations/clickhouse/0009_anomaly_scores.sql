-- Anomaly scores (issue 9): one row per scored (series, signal, minute),
-- written by the processors' anomaly scorer (anomaly/scorer.ts) once a minute
-- is closed.
--
--   series_kind  'operation' (tenant, service, operation) or 'model' (tenant, service, model)
--   name         the operation or the model
--   signal       request_rate (spans/min), error_rate (0–1), latency_p99_ms (ms), cost_usd (USD/min)
--   observed     the minute's value; expected the detector's forecast; lower /
--                upper the band outside which the point component alone scores ≥ 0.9
--   score        0–1 (anomaly/detector.ts); is_anomaly = score ≥ the configured threshold
--   component    what scored: 0 none, 1 point, 2 level shift, 3 CUSUM, 4 variance, 5 flat line
--
-- Idempotent on replay: a minute re-scored after a restart or a lease
-- takeover gives the same row (the detector is deterministic from its
-- snapshot), and ReplacingMergeTree keeps one row per key; readers use FINAL.
CREATE TABLE IF NOT EXISTS {{database}}.anomaly_scores
(
    tenant LowCardinality(String),
    minute DateTime('UTC'),
    series_kind LowCardinality(String),
    service LowCardinality(String),
    name LowCardinality(String),
    signal LowCardinality(String),
    observed Float64,
    expected Float64,
    lower Float64,
    upper Float64,
    score Float32,
    is_anomaly UInt8,
    component UInt8
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, service, series_kind, name, signal, minute)
TTL minute + INTERVAL {{retention_days}} DAY
SETTINGS non_replicated_deduplication_window = 10000;
