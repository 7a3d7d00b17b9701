/**
 * Minimal OTLP protobuf decoder for the demo test: just the fields the test
 * looks at, declared inline (field numbers from opentelemetry-proto v1:
 * collector/{trace,logs}/v1, trace/v1, logs/v1, common/v1, resource/v1).
 * Unknown fields are skipped by protobufjs, so the subset is safe to decode
 * full SDK payloads. Kept independent of ingest's decoder on purpose: the
 * test checks what the SDK sends, not what Vigil understands.
 */
import protobuf from 'protobufjs';

const SCHEMA = `
syntax = "proto3";
package otlp;
message AnyValue { oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3;
  double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6; bytes bytes_value = 7; } }
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message Resource { repeated KeyValue attributes = 1; }
message Scope { string name = 1; string version = 2; }
message Status { string message = 2; int32 code = 3; }
message Span { bytes trace_id = 1; bytes span_id = 2; bytes parent_span_id = 4; string name = 5; int32 kind = 6;
  fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8; repeated KeyValue attributes = 9; Status status = 15; }
message ScopeSpans { Scope scope = 1; repeated Span spans = 2; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message LogRecord { fixed64 time_unix_nano = 1; int32 severity_number = 2; string severity_text = 3; AnyValue body = 5;
  repeated KeyValue attributes = 6; bytes trace_id = 9; bytes span_id = 10; }
message ScopeLogs { Scope scope = 1; repeated LogRecord log_records = 2; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: true }).root;
const TraceReq = root.lookupType('otlp.ExportTraceServiceRequest');
const LogsReq = root.lookupType('otlp.ExportLogsServiceRequest');

/** Attribute values flattened to JS: strings, booleans, numbers (int64 → number), arrays. */
export type AttrValue = string | number | boolean | AttrValue[] | null;

/** A decoded span; ids are lowercase hex. kind: 1 internal, 2 server, 3 client. */
export interface DecodedSpan {
  serviceName: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, AttrValue>;
  statusCode: number;
}

/** A decoded log record; ids are lowercase hex ('' when absent). */
export interface DecodedLog {
  serviceName: string;
  traceId: string;
  spanId: string;
  severityNumber: number;
  body: AttrValue;
  attributes: Record<string, AttrValue>;
}

interface RawKv { key: string; value?: RawAny }
interface RawAny { string_value?: string; bool_value?: boolean; int_value?: unknown; double_value?: number;
  array_value?: { values?: RawAny[] } }

function anyValue(v: RawAny | undefined): AttrValue {
  if (!v) return null;
  if (v.string_value !== undefined) return v.string_value;
  if (v.bool_value !== undefined) return v.bool_value;
  if (v.int_value !== undefined) return Number(v.int_value);
  if (v.double_value !== undefined) return v.double_value;
  if (v.array_value) return (v.array_value.values ?? []).map(anyValue);
  return null;
}

function attrs(kvs: RawKv[] | undefined): Record<string, AttrValue> {
  return Object.fromEntries((kvs ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

const hex = (b: Uint8Array | undefined): string => Buffer.from(b ?? []).toString('hex');

/** Decode an `ExportTraceServiceRequest` body into flat spans. */
export function decodeSpans(body: Uint8Array): DecodedSpan[] {
  const msg = TraceReq.toObject(TraceReq.decode(body), { longs: String, defaults: false }) as {
    resource_spans?: Array<{ resource?: { attributes?: RawKv[] }; scope_spans?: Array<{ spans?: Array<Record<string, unknown>> }> }>;
  };
  return (msg.resource_spans ?? []).flatMap((rs) => {
    const serviceName = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
    return (rs.scope_spans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        serviceName,
        traceId: hex(s.trace_id as Uint8Array),
        spanId: hex(s.span_id as Uint8Array),
        parentSpanId: hex(s.parent_span_id as Uint8Array | undefined),
        name: String(s.name ?? ''),
        kind: Number(s.kind ?? 0),
        attributes: attrs(s.attributes as RawKv[] | undefined),
        statusCode: Number((s.status as { code?: number } | undefined)?.code ?? 0),
      })),
    );
  });
}

/** Decode an `ExportLogsServiceRequest` body into flat log records. */
export function decodeLogs(body: Uint8Array): DecodedLog[] {
  const msg = LogsReq.toObject(LogsReq.decode(body), { longs: String, defaults: false }) as {
    resource_logs?: Array<{ resource?: { attributes?: RawKv[] }; scope_logs?: Array<{ log_records?: Array<Record<string, unknown>> }> }>;
  };
  return (msg.resource_logs ?? []).flatMap((rl) => {
    const serviceName = String(attrs(rl.resource?.attributes)['service.name'] ?? '');
    return (rl.scope_logs ?? []).flatMap((sl) =>
      (sl.log_records ?? []).map((r) => ({
        serviceName,
        traceId: hex(r.trace_id as Uint8Array | undefined),
        spanId: hex(r.span_id as Uint8Array | undefined),
        severityNumber: Number(r.severity_number ?? 0),
        body: anyValue(r.body as RawAny | undefined),
        attributes: attrs(r.attributes as RawKv[] | undefined),
      })),
    );
  });
}
