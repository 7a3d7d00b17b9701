/**
 * OpenAPI docs of the health routes (no parameters, no auth).
 */

export const healthzDoc = {
  summary: 'Liveness',
  description: 'Always 200 { status: "ok" } while the process serves HTTP. No auth.',
  tags: ['health'],
};

export const readyzDoc = {
  summary: 'Readiness',
  description:
    '200 { status: "ready", checks } when ClickHouse answers a ping and the ready() callback resolves true; ' +
    'otherwise 503 { error: { code: VIGIL_ERR_CLICKHOUSE_UNAVAILABLE | VIGIL_ERR_SHUTTING_DOWN }, checks }. No auth.',
  tags: ['health'],
};

/** Readiness checks: each true when healthy. */
export interface ReadyChecks {
  clickhouse: boolean;
  dependencies: boolean;
}
