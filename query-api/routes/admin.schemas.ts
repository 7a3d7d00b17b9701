/**
 * Request schemas (zod, validated in the handlers) and OpenAPI documentation of
 * the admin routes under /api/v1/admin (query-api/routes/admin.ts).
 */
import { z } from 'zod';
import { docSchema } from '../params.js';

const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const projectId = z.string().regex(PROJECT_ID, { error: "a project id: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit" });

/** Body of POST /api/v1/admin/projects. */
export const CreateProjectBody = z.strictObject({
  id: projectId,
  name: z.string().min(1).max(200).optional().meta({ description: 'display name; default the id' }),
});

/** Query of GET /api/v1/admin/keys. */
export const KeysQuery = z.strictObject({ project: projectId.optional().meta({ description: 'only this project\'s keys' }) });

/** Body of POST /api/v1/admin/keys. */
export const CreateKeyBody = z.strictObject({
  project: projectId.meta({ description: 'project of the key (created if missing)' }),
  admin: z.boolean().optional().meta({ description: 'an admin key (may use /api/v1/admin); default false' }),
});

/** Path of the per-project routes. */
export const ProjectParams = z.strictObject({ id: projectId });
/** Path of DELETE /api/v1/admin/keys/:keyId. */
export const KeyParams = z.strictObject({ keyId: z.string().regex(/^[0-9a-f]{12}$/, { error: 'a key id: 12 lowercase hex characters' }) });

const rate = z.number().min(0).max(1e12).nullable();

/** Body of PUT /api/v1/admin/projects/:id/limits (a field left out keeps its value; null = the default). */
export const LimitsBody = z.strictObject({
  spans_per_s: rate.optional().meta({ description: 'spans per second; 0 = unlimited; null = the default (VIGIL_PROJECT_RATE_LIMIT_SPANS_PER_S)' }),
  logs_per_s: rate.optional().meta({ description: 'log records per second; 0 = unlimited; null = the default (VIGIL_PROJECT_RATE_LIMIT_LOGS_PER_S)' }),
});

/** Body of PUT /api/v1/admin/projects/:id/retention. */
export const RetentionBody = z.strictObject({
  retention_days: z.number().int().min(1).max(36_500).nullable().meta({ description: 'days (1–36500); null = the default (VIGIL_RETENTION_DAYS)' }),
});

const errorsDoc = 'Errors: 400 VIGIL_ERR_VALIDATION, 401 VIGIL_ERR_UNAUTHORIZED, 403 VIGIL_ERR_FORBIDDEN (not an admin key)';
const common = { tags: ['admin'], security: [{ bearer: [] }] };

const limitsShape = {
  type: 'object',
  properties: {
    project: { type: 'string' },
    spans_per_s: { type: ['number', 'null'], description: 'stored value; null = the default' },
    logs_per_s: { type: ['number', 'null'], description: 'stored value; null = the default' },
    effective: { type: 'object', properties: { spans_per_s: { type: 'number' }, logs_per_s: { type: 'number' } }, description: 'what ingest enforces (0 = unlimited)' },
  },
};
const retentionShape = {
  type: 'object',
  properties: {
    project: { type: 'string' },
    retention_days: { type: ['integer', 'null'], description: 'stored value; null = the default' },
    effective_days: { type: 'integer' },
  },
};

export const listProjectsDoc = { ...common, summary: 'Every project with its key count, limits and retention (admin key)', description: `${errorsDoc}.` };
export const createProjectDoc = { ...common, summary: 'Create a project (admin key)', description: `201 when created. ${errorsDoc}, 409 VIGIL_ERR_CONFLICT (exists).`, body: docSchema(CreateProjectBody) };
export const listKeysDoc = { ...common, summary: 'API keys, newest first, never their secrets (admin key)', description: `${errorsDoc}.`, querystring: docSchema(KeysQuery) };
export const createKeyDoc = { ...common, summary: 'Create an API key; the answer is the only copy of the key (admin key)', description: `201 { key, key_id, project, admin }. ${errorsDoc}.`, body: docSchema(CreateKeyBody) };
export const revokeKeyDoc = { ...common, summary: 'Revoke an API key (permanent; admin key)', description: `Other processes may accept it for up to 60 s (their key cache). ${errorsDoc}, 404 VIGIL_ERR_NOT_FOUND (no active key with this id).`, params: docSchema(KeyParams) };
export const getLimitsDoc = { ...common, summary: "A project's ingest rate limits (admin key)", description: `${errorsDoc}, 404 VIGIL_ERR_NOT_FOUND.`, params: docSchema(ProjectParams), response: { 200: limitsShape } };
export const putLimitsDoc = {
  ...common,
  summary: "Set a project's ingest rate limits (admin key)",
  description: `Ingest applies it within 10 s (at once in this process). ${errorsDoc}, 404 VIGIL_ERR_NOT_FOUND.`,
  params: docSchema(ProjectParams),
  body: docSchema(LimitsBody),
  response: { 200: limitsShape },
};
export const getRetentionDoc = { ...common, summary: "A project's retention (admin key)", description: `${errorsDoc}, 404 VIGIL_ERR_NOT_FOUND.`, params: docSchema(ProjectParams), response: { 200: retentionShape } };
export const putRetentionDoc = {
  ...common,
  summary: "Set a project's retention; applied by the ClickHouse tables' TTL (admin key)",
  description: `The tables' TTL is changed at once; ClickHouse deletes expired rows in background merges. ${errorsDoc}, 404 VIGIL_ERR_NOT_FOUND.`,
  params: docSchema(ProjectParams),
  body: docSchema(RetentionBody),
  response: { 200: retentionShape },
};
