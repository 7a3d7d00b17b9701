/**
 * Request schemas (zod, validated in the handlers) and OpenAPI documentation
 * of the flag management routes (query-api/routes/flags.ts) and the
 * experiment routes (query-api/routes/flags-experiments.ts).
 */
import { z } from 'zod';
import { ExperimentInput } from '../../flags/experiments-store.js';
import { FlagInput, flagKey } from '../../flags/model.js';
import { docSchema, intParam, limitParam, timeParam } from '../params.js';

/** Path params with a flag key. */
export const KeyParams = z.strictObject({ key: flagKey });

/** Path params of one override. */
export const OverrideParams = z.strictObject({
  key: flagKey,
  scope: z.enum(['user', 'workspace'], { error: 'expected user or workspace' }),
  subject: z.string().min(1).max(256, { message: 'at most 256 characters' }),
});

/** PUT …/overrides/:scope/:subject */
export const OverrideBody = z.strictObject({ variant: z.string({ error: 'expected a variant name' }).min(1) });

/** GET …/changes */
export const ChangesQuery = z.strictObject({
  before: intParam(1, Number.MAX_SAFE_INTEGER, 'a change id (page with next_before)').optional(),
  limit: limitParam(100, 1000),
});

/** GET /api/v1/experiments/:ref */
export const ResultsQuery = z.strictObject({
  from: timeParam.optional().meta({ description: 'range start (default: the experiment\'s start_at, else to − 1 h)' }),
  to: timeParam.optional().meta({ description: 'range end (default: the experiment\'s end_at, else now)' }),
  control: z.string().min(1).max(64).optional().meta({ description: 'control variant (default: the experiment\'s control_variant, else the flag\'s default variant)' }),
  service: z.string().min(1).max(512).optional().meta({ description: 'only spans of this service' }),
  confidence: z
    .enum(['0.8', '0.9', '0.95', '0.99'], { error: 'expected 0.8, 0.9, 0.95 or 0.99' })
    .optional()
    .meta({ description: 'confidence level of the intervals (default 0.95; significant when p < 1 − confidence)' }),
});

/** Path params with an experiment id. */
export const ExperimentIdParams = z.strictObject({ id: z.uuid({ error: 'expected an experiment id (uuid)' }) });

/** Path params of the results route: an experiment id or a flag key. */
export const RefParams = z.strictObject({ ref: z.string().min(1).max(128) });

const sec = [{ bearer: [] }];
const tags = ['flags'];
const errs = 'Errors: 400 VIGIL_ERR_VALIDATION naming the field, 401 VIGIL_ERR_UNAUTHORIZED, 404 VIGIL_ERR_NOT_FOUND (another project\'s flags too), 409 VIGIL_ERR_CONFLICT.';
const actor = 'The change is recorded with the X-Vigil-Actor header (a person or tool, ≤ 200 characters) or the API key id as `actor`.';

/** OpenAPI route documentation. */
export const flagDocs = {
  list: { summary: 'List feature flags', tags, security: sec, description: errs },
  create: { summary: 'Create a feature flag', description: `Body: the flag format (README "Feature flags and experiments"). 201 with the flag. ${actor} ${errs}`, tags, security: sec, body: docSchema(FlagInput) },
  get: { summary: 'One feature flag', tags, security: sec, params: docSchema(KeyParams), description: errs },
  put: { summary: 'Replace a feature flag (its key stays)', tags, security: sec, params: docSchema(KeyParams), body: docSchema(FlagInput), description: `${actor} ${errs}` },
  patch: {
    summary: 'Change some fields of a flag, e.g. a rollout: {"fallthrough": {"rollout": [{"variant": "on", "weight": 20}, {"variant": "off", "weight": 80}]}} or {"enabled": false}',
    description: `Top-level fields given replace the current ones (rules as a whole). ${actor} ${errs}`,
    tags, security: sec, params: docSchema(KeyParams),
  },
  delete: { summary: 'Delete a flag and its overrides (its change history is kept); 409 while an experiment uses it', tags, security: sec, params: docSchema(KeyParams), description: `${actor} ${errs}` },
  changes: { summary: 'Changes of a flag, newest first: who, when, before and after', tags, security: sec, params: docSchema(KeyParams), querystring: docSchema(ChangesQuery), description: errs },
  overrides: { summary: 'User- and workspace-level overrides of a flag', tags, security: sec, params: docSchema(KeyParams), description: errs },
  setOverride: {
    summary: 'Serve a variant to one user (context targetingKey) or workspace (context workspaceId)',
    tags, security: sec, params: docSchema(OverrideParams), body: docSchema(OverrideBody), description: `${actor} ${errs}`,
  },
  deleteOverride: { summary: 'Remove an override', tags, security: sec, params: docSchema(OverrideParams), description: `${actor} ${errs}` },
};

const etags = ['experiments'];

/** OpenAPI documentation of the experiment routes. */
export const experimentDocs = {
  list: { summary: 'List experiments', tags: etags, security: sec },
  create: { summary: 'Create an experiment on a flag', description: `201 with the experiment. ${errs}`, tags: etags, security: sec, body: docSchema(ExperimentInput) },
  results: {
    summary: 'Compare a flag\'s variants on the telemetry they produced',
    description:
      '`ref` is an experiment id (its flag, control and window) or a flag key. Spans that carry a `feature_flag.evaluation` event (OpenTelemetry semantic ' +
      'conventions) or `feature_flag.key` / `feature_flag.result.variant` attributes for the flag are grouped by variant: requests, error rate, mean and ' +
      'p50/p95/p99 latency (DDSketch, within 1 %), LLM cost per request (the cost of the evaluating span itself), read from per-minute aggregates, so the range ' +
      'is widened to whole minutes. Each variant is compared with the control: two-proportion z-test for the ' +
      'error rate, Welch\'s t-test for mean latency and mean cost, with confidence intervals and p-values (@stdlib distributions). `sample: "too_small"` ' +
      'marks comparisons with fewer than 30 requests in a variant (or fewer than 5 errors and 5 successes for the error rate): not judged. ' + errs,
    tags: etags, security: sec, params: docSchema(RefParams), querystring: docSchema(ResultsQuery),
  },
  patch: { summary: 'Change an experiment (e.g. {"status": "running"}; start_at is set when it starts, end_at when it stops)', tags: etags, security: sec, params: docSchema(ExperimentIdParams), description: errs },
  delete: { summary: 'Delete an experiment', tags: etags, security: sec, params: docSchema(ExperimentIdParams), description: errs },
};
