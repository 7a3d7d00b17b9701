/** Envelope builders shared by the processor tests. Times are "now" so rows are inside the tables' TTL. */
import type { Envelope } from '../../schemas/envelope.js';
import type { KeyValue } from '../../schemas/otlp.js';

export const nowNs = (offsetMs = 0): bigint => BigInt(Date.now() + offsetMs) * 1_000_000n;

export function hex(n: number, len: number): string {
  return (n + 1).toString(16).padStart(len, '0');
}

export function str(key: string, v: string): KeyValue {
  return { key, value: { stringValue: v } };
}
export function int(key: string, v: number): KeyValue {
  return { key, value: { intValue: String(v) } };
}

/** An OTLP span envelope with `count` spans whose span ids start at `firstId`. */
export function otlpSpanEnvelope(tenant: string, firstId: number, count: number, attrs: KeyValue[] = []): Envelope {
  const start = nowNs();
  return {
    v: 1,
    tenant,
    receivedAtMs: Date.now(),
    kind: 'spans',
    format: 'otlp',
    resource: { attributes: [str('service.name', 'checkout'), int('process.pid', 42)] },
    scope: { name: 'test-scope', version: '1.0.0' },
    records: Array.from({ length: count }, (_, i) => ({
      traceId: hex(firstId, 32),
      spanId: hex(firstId + i, 16),
      name: 'GET /cart',
      kind: 2,
      startTimeUnixNano: String(start),
      endTimeUnixNano: String(start + BigInt(1 + i) * 1_000_000n),
      attributes: attrs,
      status: { code: 1 },
    })),
  };
}

/** A native log envelope with one record. */
export function nativeLogEnvelope(tenant: string, body: string): Envelope {
  return {
    v: 1,
    tenant,
    receivedAtMs: Date.now(),
    kind: 'logs',
    format: 'native',
    records: [{ time: Date.now(), severity: 'warning', body, service: 'checkout', attributes: { a: 1 }, resource: {} }],
  };
}
