/**
 * OTLP data shapes after decoding, shared by ingest (which decodes
 * OTLP/HTTP protobuf or JSON into these) and processors (which normalise them
 * into ClickHouse rows).
 *
 * The shapes follow the OTLP JSON encoding (opentelemetry-proto,
 * `opentelemetry/proto/{common,resource,trace,logs}/v1/*.proto`, and the
 * OTLP specification "JSON Protobuf Encoding"): camelCase field names,
 * trace/span ids as lowercase hex (32 / 16 chars), 64-bit integers
 * (timestamps in ns since the Unix epoch, intValue) as decimal strings,
 * enums as numbers. Protobuf-decoded input is converted to exactly this form.
 */

/** OTLP AnyValue: exactly one member is set. bytesValue is base64. */
export interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  /** int64 as decimal string (JSON encoding) or number. */
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
}

/** OTLP KeyValue attribute. */
export interface KeyValue {
  key: string;
  value?: AnyValue;
}

/**
 * OTLP Resource. `schemaUrl` is carried here from the enclosing
 * ResourceSpans / ResourceLogs (trace.proto / logs.proto field 3), so an
 * envelope (one resource, one scope) keeps it. `entityRefsCount`: how many
 * `entity_refs` (resource.proto field 3, development status) the request
 * carried — Vigil does not store them and says so in partial_success.
 */
export interface OtlpResource {
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  schemaUrl?: string;
  entityRefsCount?: number;
}

/**
 * OTLP InstrumentationScope. `schemaUrl` is carried here from the enclosing
 * ScopeSpans / ScopeLogs (field 3).
 */
export interface OtlpScope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  schemaUrl?: string;
}

/** OTLP Span.Event. timeUnixNano: ns since epoch, decimal string. */
export interface OtlpSpanEvent {
  timeUnixNano?: string;
  name?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}

/**
 * OTLP Span.Link. traceId / spanId lowercase hex; flags: W3C trace flags in
 * bits 0–7 plus SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE / IS_REMOTE (bits 8, 9).
 */
export interface OtlpSpanLink {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
}

/**
 * OTLP Span. kind: SpanKind enum (0 unspecified, 1 internal, 2 server,
 * 3 client, 4 producer, 5 consumer). status.code: 0 unset, 1 ok, 2 error.
 */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  traceState?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** W3C trace flags (bits 0–7) and SPAN_FLAGS_CONTEXT_* bits (trace.proto, Span.flags). */
  flags?: number;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  events?: OtlpSpanEvent[];
  droppedEventsCount?: number;
  links?: OtlpSpanLink[];
  droppedLinksCount?: number;
  status?: { code?: number; message?: string };
}

/**
 * OTLP LogRecord. severityNumber 1–24 (OTel logs data model, SeverityNumber).
 * traceId/spanId hex or empty.
 */
export interface OtlpLogRecord {
  timeUnixNano?: string;
  observedTimeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: AnyValue;
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
  traceId?: string;
  spanId?: string;
  flags?: number;
  eventName?: string;
}
