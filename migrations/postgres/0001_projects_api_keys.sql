-- Control-plane tables. Telemetry lives in ClickHouse; Postgres holds projects
-- (tenants), API keys, alerting state and feature flags.

-- A project is a tenant; its id (a slug) is the `tenant` column in ClickHouse.
CREATE TABLE projects (
    id text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- API keys `vgl_<key_id>_<secret>`: key_id (12 hex) is public and indexed; the
-- secret is stored only as scrypt(secret, salt, 32 bytes). Revoked keys keep
-- their row with revoked_at set.
CREATE TABLE api_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key_id text NOT NULL UNIQUE CHECK (key_id ~ '^[0-9a-f]{12}$'),
    salt bytea NOT NULL CHECK (octet_length(salt) = 16),
    hash bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_project_idx ON api_keys (project_id);

-- Alert rules, per project. condition_type selects how condition_config is read
-- (e.g. error_rate {service, threshold}, latency_p95 {service, operation,
-- threshold_ms}, cost {threshold_usd}, log_count {severity, query, threshold});
-- channels is a JSON array of {type: 'webhook', url} targets.
CREATE TABLE alert_rules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL,
    description text NOT NULL DEFAULT '',
    severity text NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    enabled boolean NOT NULL DEFAULT true,
    condition_type text NOT NULL,
    condition_config jsonb NOT NULL DEFAULT '{}'::jsonb,
    evaluation_window_s integer NOT NULL DEFAULT 300 CHECK (evaluation_window_s > 0),
    check_interval_s integer NOT NULL DEFAULT 60 CHECK (check_interval_s > 0),
    cooldown_s integer NOT NULL DEFAULT 1800 CHECK (cooldown_s >= 0),
    channels jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);
CREATE INDEX alert_rules_enabled_idx ON alert_rules (project_id) WHERE enabled;

-- Current evaluation state of each rule (one row per rule): 'ok' or 'firing',
-- since when, the last observed value, and when it last notified (cooldown).
CREATE TABLE alert_state (
    rule_id uuid PRIMARY KEY REFERENCES alert_rules (id) ON DELETE CASCADE,
    status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'firing')),
    since timestamptz NOT NULL DEFAULT now(),
    last_value double precision,
    last_evaluated_at timestamptz,
    last_notified_at timestamptz,
    acknowledged_by text,
    acknowledged_at timestamptz
);

-- Notification log: every delivery attempt outcome for a rule transition
-- (status 'pending' | 'sent' | 'failed'; attempts counts tries).
CREATE TABLE notifications (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    event text NOT NULL CHECK (event IN ('firing', 'resolved', 'test')),
    channel text NOT NULL DEFAULT 'webhook',
    target text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}'::jsonb,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    response_status integer,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX notifications_project_created_idx ON notifications (project_id, created_at DESC);
CREATE INDEX notifications_pending_idx ON notifications (created_at) WHERE status = 'pending';

-- Feature flags per project: on/off plus a percentage rollout (0..100) and
-- optional variants (JSON object name -> weight).
CREATE TABLE feature_flags (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    description text NOT NULL DEFAULT '',
    enabled boolean NOT NULL DEFAULT false,
    rollout_percent integer NOT NULL DEFAULT 100 CHECK (rollout_percent BETWEEN 0 AND 100),
    variants jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);
