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

/** OTLP Resource. */
export interface OtlpResource {
  attributes?: KeyValue[];
  droppedAttributesCount?: number;
}

/** OTLP InstrumentationScope. */
export interface OtlpScope {
  name?: string;
  version?: string;
  attributes?: KeyValue[];
}

/** OTLP Span.Event. timeUnixNano: ns since epoch, decimal string. */
export interface OtlpSpanEvent {
  timeUnixNano?: string;
  name?: string;
  attributes?: KeyValue[];
}

/** OTLP Span.Link. */
export interface OtlpSpanLink {
  traceId?: string;
  spanId?: string;
  attributes?: KeyValue[];
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
  attributes?: KeyValue[];
  events?: OtlpSpanEvent[];
  links?: OtlpSpanLink[];
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
  traceId?: string;
  spanId?: string;
  flags?: number;
  eventName?: string;
}
