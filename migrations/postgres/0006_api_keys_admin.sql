-- Admin API keys (issue 8, "Administration a team needs"): a key with admin = true
-- may use /api/v1/admin (projects, keys, per-project limits and retention) for
-- every project. Created with `vigil keys create --project NAME --admin` or by
-- another admin key (POST /api/v1/admin/keys).
ALTER TABLE api_keys ADD COLUMN admin boolean NOT NULL DEFAULT false;
