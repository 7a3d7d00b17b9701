/**
 * API documentation routes (no auth): Swagger UI at /docs (and /docs/json,
 * /docs/yaml: the same OpenAPI document as /openapi.json), served by
 * @fastify/swagger-ui from the package's own swagger-ui-dist files — no CDN,
 * works offline. The document itself comes from @fastify/swagger (app.ts),
 * built from every route's `schema`.
 */
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';

/** Path of the Swagger UI. */
export const DOCS_PATH = '/docs';

/** Fastify plugin serving the Swagger UI; register it after @fastify/swagger. */
export const docsRoutes: FastifyPluginAsync = async (app) => {
  await app.register(swaggerUi, {
    routePrefix: DOCS_PATH,
    staticCSP: true,
    uiConfig: { deepLinking: true, persistAuthorization: true },
  });
};
