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
    '200 { status: "ready", checks } when every check passes: ClickHouse answers a ping, and the process-level checks ' +
    '(Kafka, Postgres, the processor consumer: running, inserts not failing, DLQ writable) are ok. Otherwise 503 with ' +
    'Retry-After and { error: { code: VIGIL_ERR_NOT_READY, message naming each failing check and why }, checks }. ' +
    'Each check is { ok, reason? }. No auth.',
  tags: ['health'],
};

/** One readiness check: ok, or not with the reason. */
export interface CheckResult {
  ok: boolean;
  reason?: string;
}

/** Readiness checks by name (clickhouse, kafka, postgres, processor, ...). */
export type ReadyChecks = Record<string, CheckResult>;
