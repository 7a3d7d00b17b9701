-- Feature flags and experiments (issue 10).
--
-- 0001's feature_flags (on/off, rollout_percent, variants as name -> weight)
-- had no reader or writer; it is replaced by the typed definition below
-- (flags/model.ts validates it; README "Feature flags and experiments").

DROP TABLE feature_flags;

-- One flag per (project, key). `variants` maps variant names to values of the
-- flag's type ({"on": true, "off": false}); `default_variant` is served when
-- the flag is disabled (reason DISABLED) and, unless `targeting.fallthrough`
-- says otherwise, when no rule matches. `targeting` =
-- {rules: [{name?, conditions: [{attribute, operator, value}], serve: {variant} | {rollout: [{variant, weight}]}}],
--  fallthrough?: {variant} | {rollout}, bucket_by?: "targetingKey"}.
-- `version` counts the definition's changes (1 at creation).
CREATE TABLE feature_flags (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    key text NOT NULL CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$'),
    description text NOT NULL DEFAULT '',
    type text NOT NULL CHECK (type IN ('boolean', 'string', 'number', 'object')),
    variants jsonb NOT NULL,
    default_variant text NOT NULL,
    enabled boolean NOT NULL DEFAULT true,
    targeting jsonb NOT NULL DEFAULT '{}'::jsonb,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, key)
);

-- User- and workspace-level overrides (seed 000's setFlag per user/workspace):
-- a user override applies when the evaluation context's targetingKey equals
-- `subject`; a workspace override when its `workspaceId` does. Checked before
-- the targeting rules (user first), never when the flag is disabled.
CREATE TABLE feature_flag_overrides (
    project_id text NOT NULL,
    flag_key text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('user', 'workspace')),
    subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 256),
    variant text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, flag_key, scope, subject),
    FOREIGN KEY (project_id, flag_key) REFERENCES feature_flags (project_id, key) ON DELETE CASCADE
);

-- Audit trail: every change of a flag or of its overrides, with who made it
-- (`actor`: the X-Vigil-Actor header or "api key <key id>"), when, and the
-- state before and after (API form; null before a create / after a delete).
-- Kept when the flag is deleted. The highest id of a project is its flag-set
-- revision (bulk evaluation ETags derive from it).
CREATE TABLE feature_flag_changes (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    flag_key text NOT NULL,
    action text NOT NULL CHECK (action IN ('create', 'update', 'delete', 'override_set', 'override_delete')),
    actor text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    before jsonb,
    after jsonb
);
CREATE INDEX feature_flag_changes_flag_idx ON feature_flag_changes (project_id, flag_key, id DESC);
CREATE INDEX feature_flag_changes_project_idx ON feature_flag_changes (project_id, id DESC);

-- Every change is announced on channel vigil_flag_changes (payload
-- {"project_id", "flag_key", "id"}) when its transaction commits, so every
-- process's flag cache (flags/cache.ts) drops that project's snapshot at once.
CREATE FUNCTION vigil_notify_flag_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('vigil_flag_changes',
        json_build_object('project_id', NEW.project_id, 'flag_key', NEW.flag_key, 'id', NEW.id)::text);
    RETURN NEW;
END;
$$;
CREATE TRIGGER feature_flag_changes_notify AFTER INSERT ON feature_flag_changes
    FOR EACH ROW EXECUTE FUNCTION vigil_notify_flag_change();

-- Experiments (seed 003's ab_experiments), each linked to a flag whose
-- variants it compares on the telemetry they produce (flags/experiments.ts).
-- `control_variant` defaults to the flag's default variant. A flag used by an
-- experiment cannot be deleted (delete the experiment first).
CREATE TABLE ab_experiments (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id text NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    flag_key text NOT NULL,
    hypothesis text NOT NULL DEFAULT '',
    control_variant text,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'running', 'stopped')),
    start_at timestamptz,
    end_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name),
    CHECK (end_at IS NULL OR start_at IS NULL OR end_at > start_at),
    FOREIGN KEY (project_id, flag_key) REFERENCES feature_flags (project_id, key) ON DELETE RESTRICT
);
CREATE INDEX ab_experiments_flag_idx ON ab_experiments (project_id, flag_key);
