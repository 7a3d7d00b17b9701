/**
 * Tenant of an authenticated query-API request. Authentication itself is
 * platform/auth/plugin.ts (`addAuthHook`), which sets `request.tenant` to the
 * project id of the Bearer key (401 VIGIL_ERR_UNAUTHORIZED otherwise).
 */
import type { FastifyRequest } from 'fastify';
import { VigilError } from '../platform/errors.js';

export type { KeyVerifier } from '../platform/auth/plugin.js';

/**
 * The tenant (project id) every query of this request is confined to.
 * @throws VigilError VIGIL_ERR_UNAUTHORIZED when no tenant was set (a wiring bug:
 *   the route is outside the auth scope). Never queries untenanted.
 */
export function tenantOf(request: FastifyRequest): string {
  const t: unknown = (request as { tenant?: unknown }).tenant;
  if (typeof t === 'string' && t !== '') return t;
  throw new VigilError('VIGIL_ERR_UNAUTHORIZED', 'request is not authenticated; send Authorization: Bearer <key>');
}
