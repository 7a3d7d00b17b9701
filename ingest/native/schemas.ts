/**
 * Fastify (JSON Schema) response schemas of the native ingest routes; request
 * bodies are validated with zod (schemas/native.ts) per element instead, so a
 * bad record rejects only itself.
 */

/** 200 answer: counts plus the first problems, `field` like `[3].trace_id`. */
export const nativeResponseSchema = {
  type: 'object',
  required: ['accepted', 'rejected', 'errors'],
  properties: {
    accepted: { type: 'integer', minimum: 0 },
    rejected: { type: 'integer', minimum: 0 },
    errors: {
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
    },
  },
} as const;
