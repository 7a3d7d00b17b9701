/**
 * Fastify (JSON Schema) response schemas of the native ingest routes; request
 * bodies are validated with zod (schemas/native.ts) per element instead, so a
 * bad record rejects only itself.
 */

/** One record's problem (error) or ignored unknown field (warning); `field` like `[3].trace_id`. */
const recordProblems = {
  type: 'array',
  items: {
    type: 'object',
    required: ['index', 'field', 'message'],
    properties: {
      index: { type: 'integer', minimum: 0 },
      field: { type: 'string' },
      message: { type: 'string' },
    },
  },
} as const;

/** 200 answer: counts plus the first problems and the unknown (ignored) fields. */
export const nativeResponseSchema = {
  type: 'object',
  required: ['accepted', 'rejected', 'errors', 'warnings'],
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    errors: recordProblems,
    warnings: recordProblems,
  },
} as const;

/**
 * 400 answer: `error` always; when every record was invalid also the counts,
 * errors and warnings of the 200 answer (`accepted` is then 0).
 */
export const nativeRejectedSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    errors: recordProblems,
    warnings: recordProblems,
  },
} as const;
