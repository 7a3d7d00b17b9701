-- Anomaly scoring (issue 9): work split, detector snapshots, per-project switch.
--
-- anomaly_shards: series are split into 64 shards by a hash of their identity
-- (computed in ClickHouse). A processor owns a shard while it holds its lease
-- (owner, lease_until); scored_through is the last minute (epoch s) whose
-- scores were written for every series of the shard, and state the detector
-- snapshot as of that minute (gzip of JSON with base64 Float64 states). A
-- process that takes a shard over continues from the snapshot: it re-scores
-- at most the minutes since then (identical rows, deduplicated in ClickHouse)
-- and skips none.
CREATE TABLE IF NOT EXISTS anomaly_shards (
    shard integer PRIMARY KEY,
    owner text,
    lease_until timestamptz,
    scored_through bigint NOT NULL,
    state bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Live scorers (heartbeats), so each takes its fair share of the shards.
CREATE TABLE IF NOT EXISTS anomaly_scorers (
    owner text PRIMARY KEY,
    seen_until timestamptz NOT NULL
);

-- Per-project switch (a row with enabled = false turns scoring off; no row = on).
CREATE TABLE IF NOT EXISTS anomaly_settings (
    project_id text PRIMARY KEY,
    enabled boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now()
);
