/**
 * OpenAPI documentation of the OFREP routes (query-api/routes/ofrep.ts), after
 * the OpenFeature Remote Evaluation Protocol's OpenAPI document
 * (github.com/open-feature/protocol, service/openapi.yaml, version 0.3.0):
 * evaluationRequest, serverEvaluationSuccess, evaluationFailure,
 * flagNotFound, bulkEvaluationSuccess, bulkEvaluationFailure.
 */

const context = {
  type: 'object',
  description: 'Evaluation context: targetingKey (user id; needed by rollouts and user overrides), workspaceId (workspace overrides) and any attributes rules test.',
  properties: { targetingKey: { type: 'string' } },
  additionalProperties: true,
};
const metadata = { type: 'object', additionalProperties: { anyOf: [{ type: 'boolean' }, { type: 'string' }, { type: 'number' }] } };
const success = {
  type: 'object',
  required: ['key', 'reason'],
  properties: {
    key: { type: 'string' },
    value: { description: 'boolean, string, number or object, as the flag\'s type' },
    reason: { type: 'string', enum: ['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT'] },
    variant: { type: 'string' },
    metadata,
  },
};
const failure = {
  type: 'object',
  required: ['key', 'errorCode'],
  properties: {
    key: { type: 'string' },
    errorCode: { type: 'string', enum: ['FLAG_NOT_FOUND', 'PARSE_ERROR', 'TARGETING_KEY_MISSING', 'INVALID_CONTEXT', 'GENERAL'] },
    errorDetails: { type: 'string' },
    metadata,
  },
};
const general = { type: 'object', properties: { errorDetails: { type: 'string' } } };
const body = { type: 'object', properties: { context } };
const sec = [{ bearer: [] }];
const tags = ['ofrep'];

/** Route documentation. */
export const ofrepDocs = {
  evaluate: {
    summary: 'OFREP: evaluate one flag (server-side providers, e.g. @openfeature/ofrep-provider)',
    description:
      'Reasons: STATIC (no targeting), TARGETING_MATCH (a rule or an override), SPLIT (a percentage rollout), DISABLED (the flag is off: its default variant), ' +
      'DEFAULT (targeting exists but nothing matched). 404 FLAG_NOT_FOUND; 400 TARGETING_KEY_MISSING (a rollout needs the context\'s targetingKey), ' +
      'PARSE_ERROR (a body that is not JSON, or a stored definition that does not parse), INVALID_CONTEXT. TYPE_MISMATCH is reported by the OpenFeature SDK ' +
      'when the value is not of the type the application asked for. 401 without a valid project key.',
    tags, security: sec,
    params: { type: 'object', properties: { key: { type: 'string' } }, required: ['key'] },
    body,
    response: { 200: success, 400: failure, 404: failure, 500: general },
  },
  bulk: {
    summary: 'OFREP: evaluate every flag of the project (client-side providers, e.g. @openfeature/ofrep-web-provider)',
    description:
      'The answer carries an ETag (a hash of the project\'s flag-set revision and the context); send it back in If-None-Match to get 304 Not Modified ' +
      'while neither changed. Flags that fail to evaluate are listed with errorCode (TARGETING_KEY_MISSING, PARSE_ERROR). flagConfigEtag and ' +
      'flagConfigLastModified query parameters are accepted and ignored.',
    tags, security: sec,
    body,
    response: {
      200: { type: 'object', required: ['flags'], properties: { flags: { type: 'array', items: { anyOf: [success, failure] } }, metadata } },
      304: { type: 'null', description: 'Not Modified (If-None-Match matched the ETag)' },
      400: { type: 'object', required: ['errorCode'], properties: { errorCode: { type: 'string' }, errorDetails: { type: 'string' } } },
      500: general,
    },
  },
};
