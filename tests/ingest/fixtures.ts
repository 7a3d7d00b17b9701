/**
 * OTLP request builders for ingest tests: plain OTLP/JSON objects, and their
 * binary protobuf encoding through the same protobufjs root ingest uses.
 */
import { otlpProto } from '../../ingest/otlp/proto.js';
import type { KeyVerifier } from '../../platform/auth/keys.js';

export const TRACE_A = '5b8efff798038103d269b633813fc60c';
export const TRACE_B = '0af7651916cd43dd8448eb211c80319c';
export const SPAN_1 = 'eee19b7ec3c1b174';
export const SPAN_2 = 'b7ad6b7169203331';
export const SPAN_3 = '00f067aa0ba902b7';
/** A recent whole second (ns since epoch, decimal): inside the acceptance window (schemas/limits.ts). */
export const RECENT_NS = (BigInt(Math.floor(Date.now() / 1000) - 60) * 1_000_000_000n).toString();
/** RECENT_NS + 250 ms. */
export const RECENT_END_NS = (BigInt(RECENT_NS) + 250_000_000n).toString();
/** 2^63 + 5 ns: above Number.MAX_SAFE_INTEGER, catches precision loss. */
export const BIG_NS = '9223372036854775813';

/** An honest in-memory KeyVerifier (a Map key → project). */
export function mapKeys(entries: Record<string, string>): KeyVerifier {
  const m = new Map(Object.entries(entries));
  return { verify: async (key) => (m.has(key) ? { projectId: m.get(key)! } : null) };
}

export interface SpanSpec {
  traceId: string;
  spanId: string;
  name?: string;
  start?: string;
  end?: string;
  parentSpanId?: string;
}

/** OTLP/JSON ExportTraceServiceRequest: one resource (service.name = svc), one scope, the given spans. */
export function tracesJson(spans: SpanSpec[], svc = 'checkout'): Record<string, unknown> {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }] },
        scopeSpans: [
          {
            scope: { name: 'test-scope', version: '1.0.0' },
            spans: spans.map((s) => ({
              traceId: s.traceId,
              spanId: s.spanId,
              ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
              name: s.name ?? 'GET /cart',
              kind: 2,
              startTimeUnixNano: s.start ?? RECENT_NS,
              endTimeUnixNano: s.end ?? RECENT_END_NS,
              attributes: [
                { key: 'http.status_code', value: { intValue: '200' } },
                { key: 'blob', value: { bytesValue: Buffer.from('hi').toString('base64') } },
              ],
              status: { code: 1 },
            })),
          },
        ],
      },
    ],
  };
}

/** Protobuf bytes of an OTLP/JSON-shaped traces request (hex ids → bytes). */
export function tracesProtobuf(json: Record<string, unknown>): Buffer {
  const hexToBytes = (v: unknown): unknown =>
    typeof v === 'string' ? Buffer.from(v, 'hex') : v;
  const clone = structuredClone(json) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<Record<string, unknown>> }> }> };
  for (const rs of clone.resourceSpans) {
    for (const ss of rs.scopeSpans) {
      for (const s of ss.spans) {
        for (const f of ['traceId', 'spanId', 'parentSpanId']) if (f in s) s[f] = hexToBytes(s[f]);
      }
    }
  }
  const T = otlpProto().ExportTraceServiceRequest;
  return Buffer.from(T.encode(T.fromObject(clone)).finish());
}

/** OTLP/JSON ExportLogsServiceRequest with the given records. */
export function logsJson(records: Array<Record<string, unknown>>, svc = 'checkout'): Record<string, unknown> {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: svc } }] },
        scopeLogs: [{ scope: { name: 'logger' }, logRecords: records }],
      },
    ],
  };
}

/** Protobuf bytes of an OTLP/JSON-shaped logs request. */
export function logsProtobuf(json: Record<string, unknown>): Buffer {
  const clone = structuredClone(json) as { resourceLogs: Array<{ scopeLogs: Array<{ logRecords: Array<Record<string, unknown>> }> }> };
  for (const rl of clone.resourceLogs) {
    for (const sl of rl.scopeLogs) {
      for (const r of sl.logRecords) {
        for (const f of ['traceId', 'spanId']) if (typeof r[f] === 'string') r[f] = Buffer.from(r[f] as string, 'hex');
      }
    }
  }
  const T = otlpProto().ExportLogsServiceRequest;
  return Buffer.from(T.encode(T.fromObject(clone)).finish());
}
