-- Alerting (issue 7): rules with a zod-validated condition, per-series alert
-- instances with their state, a history of transitions, notification channels,
-- an outbox of webhook deliveries, and silences.
--
-- 0001's alert_rules had a free-form condition_type/condition_config and no
-- scheduling; nothing read it. Its old columns are replaced here. 0001's
-- alert_state and notifications tables are left in place unused (superseded by
-- alert_instances and webhook_deliveries).

ALTER TABLE alert_rules
    DROP COLUMN condition_type,
    DROP COLUMN condition_config,
    DROP COLUMN evaluation_window_s,
    DROP COLUMN check_interval_s,
    DROP COLUMN cooldown_s,
    DROP COLUMN channels,
    -- Labels added to every alert of the rule; annotations are templates
    -- ({{ $value }}, {{ $labels.service }}) rendered per alert.
    ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN annotations jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- {signal, filters{service,operation,model,provider}, group_by[], window_s,
    --  operator, threshold, min_count}; validated by alerts/rule-schema.ts.
    ADD COLUMN condition jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN interval_s integer NOT NULL DEFAULT 60 CHECK (interval_s BETWEEN 10 AND 86400),
    ADD COLUMN for_s integer NOT NULL DEFAULT 0 CHECK (for_s >= 0),
    ADD COLUMN keep_firing_for_s integer NOT NULL DEFAULT 0 CHECK (keep_firing_for_s >= 0),
    ADD COLUMN repeat_interval_s integer NOT NULL DEFAULT 14400 CHECK (repeat_interval_s >= 60),
    ADD COLUMN no_data_state text NOT NULL DEFAULT 'nodata' CHECK (no_data_state IN ('ok', 'nodata', 'alerting')),
    ADD COLUMN exec_err_state text NOT NULL DEFAULT 'error' CHECK (exec_err_state IN ('error', 'alerting', 'keep_last')),
    ADD COLUMN evaluation_delay_s integer NOT NULL DEFAULT 60 CHECK (evaluation_delay_s >= 0),
    -- Key of the built-in template the rule was created from (alerts/builtins.ts), if any.
    ADD COLUMN builtin text,
    -- Scheduling: due when next_eval_at <= now; claimed by one evaluator at a
    -- time with a lease (lease_owner, lease_until), taken with FOR UPDATE SKIP LOCKED.
    ADD COLUMN next_eval_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN lease_owner text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN last_eval_at timestamptz,
    -- Consecutive failed evaluations (ClickHouse unreachable ...); exec_err_state applies from 3.
    ADD COLUMN consecutive_failures integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error text;

DROP INDEX IF EXISTS alert_rules_enabled_idx;
CREATE INDEX alert_rules_due_idx ON alert_rules (next_eval_at) WHERE enabled;

-- Where a project's alerts go.
-- webhook: Alertmanager webhook v4 body, signed per Standard Webhooks with
--   `secret` (whsec_<base64 of 32 random bytes>; kept in clear because signing
--   needs it; shown to the API client once, at creation).
-- slack: Slack incoming-webhook URL; a Slack message JSON body, unsigned.
-- A receiver answering 410 Gone disables the channel (enabled = false, disabled_reason).
CREATE TABLE notification_channels (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name text NOT NULL,
    type text NOT NULL CHECK (type IN ('webhook', 'slack')),
    url text NOT NULL,
    secret text,
    enabled boolean NOT NULL DEFAULT true,
    disabled_reason text,
    disabled_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- Which channels a rule notifies.
CREATE TABLE alert_rule_channels (
    rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    channel_id uuid NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, channel_id)
);
CREATE INDEX alert_rule_channels_channel_idx ON alert_rule_channels (channel_id);

-- One alert per (rule, series): the series is the fingerprint of its group
-- labels (e.g. {service: "checkout"}; {} without group_by).
-- normal -> pending (condition true) -> firing (true for `for`) -> normal
-- (false for `keep_firing_for`); nodata and error as the rule says.
CREATE TABLE alert_instances (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id uuid NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    state text NOT NULL DEFAULT 'normal' CHECK (state IN ('normal', 'pending', 'firing', 'nodata', 'error')),
    value double precision,
    -- Condition true since (pending and firing); null when normal.
    active_at timestamptz,
    firing_at timestamptz,
    resolved_at timestamptz,
    -- Last evaluation that found the condition true (keep_firing_for counts from it).
    last_true_at timestamptz,
    last_eval_at timestamptz,
    state_changed_at timestamptz NOT NULL DEFAULT now(),
    -- Last notification enqueued for this alert (repeat_interval counts from it).
    last_notified_at timestamptz,
    acknowledged_at timestamptz,
    acknowledged_by text,
    ack_comment text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rule_id, fingerprint)
);
CREATE INDEX alert_instances_project_state_idx ON alert_instances (project_id, state);

-- History: every state transition of every alert.
-- notification: 'queued' (a message was enqueued), 'silenced', 'acknowledged',
-- 'no_channel', or 'none' (transitions that notify nobody, e.g. normal -> pending).
CREATE TABLE alert_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    instance_id uuid REFERENCES alert_instances (id) ON DELETE SET NULL,
    rule_name text NOT NULL,
    severity text NOT NULL,
    fingerprint text NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}'::jsonb,
    from_state text NOT NULL,
    to_state text NOT NULL,
    value double precision,
    at timestamptz NOT NULL,
    notification text NOT NULL DEFAULT 'none',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_project_idx ON alert_events (project_id, id DESC);
CREATE INDEX alert_events_rule_idx ON alert_events (rule_id, id DESC);

-- Every new event is announced on channel `vigil_alert_events` (payload: the
-- event as JSON) for the SSE stream (GET /api/v1/alerts/stream).
CREATE FUNCTION vigil_notify_alert_event() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('vigil_alert_events', json_build_object(
        'id', NEW.id, 'project_id', NEW.project_id, 'rule_id', NEW.rule_id,
        'instance_id', NEW.instance_id, 'rule_name', NEW.rule_name, 'severity', NEW.severity,
        'fingerprint', NEW.fingerprint, 'labels', NEW.labels, 'from_state', NEW.from_state,
        'to_state', NEW.to_state, 'value', NEW.value, 'at', NEW.at, 'notification', NEW.notification
    )::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER alert_events_notify AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION vigil_notify_alert_event();

-- Outbox of notifications: one row per message and channel. message_id is the
-- Standard Webhooks `webhook-id`, the same on every attempt. A dispatcher
-- claims due rows with a lease (FOR UPDATE SKIP LOCKED), sends, and records
-- the outcome; status: pending -> delivered | failed.
CREATE TABLE webhook_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id text NOT NULL UNIQUE,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    channel_id uuid NOT NULL REFERENCES notification_channels (id) ON DELETE CASCADE,
    rule_id uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    kind text NOT NULL CHECK (kind IN ('firing', 'resolved', 'test')),
    payload jsonb NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_owner text,
    lease_until timestamptz,
    last_status_code integer,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_project_idx ON webhook_deliveries (project_id, id DESC);

-- Silences: alerts whose labels match every matcher get no notification
-- between starts_at and ends_at (evaluation goes on).
-- matchers: [{name, value, op: '=' | '!=' | '=~' | '!~'}] (Alertmanager's forms).
CREATE TABLE silences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    matchers jsonb NOT NULL,
    starts_at timestamptz NOT NULL DEFAULT now(),
    ends_at timestamptz NOT NULL,
    comment text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at)
);
CREATE INDEX silences_project_idx ON silences (project_id, ends_at);
