-- Per-project ingest rate limits and retention (issue 8, "Administration a
-- team needs"). NULL = the configured default (VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S,
-- VIGIL_PROJECT_RATE_LIMIT_LOGS_PER_S, VIGIL_RETENTION_DAYS); a rate of 0 = unlimited.
-- Read by ingest/limits-per-project.ts (rates, acceptance window) and by the
-- ClickHouse retention sync (retention_days).
ALTER TABLE projects
    ADD COLUMN spans_per_s double precision CHECK (spans_per_s >= 0),
    ADD COLUMN logs_per_s double precision CHECK (logs_per_s >= 0),
    ADD COLUMN retention_days integer CHECK (retention_days BETWEEN 1 AND 36500);
