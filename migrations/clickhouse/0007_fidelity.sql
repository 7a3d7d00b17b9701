-- Fidelity of what is stored (issue 8): everything the OTLP data model carries
-- for spans and logs, in place (ALTER TABLE ... ADD COLUMN; no row is rewritten
-- or lost, nothing is copied).
--
--   *_string / *_int / *_float / *_bool / *_json   typed attribute maps for span
--       (or log) attributes and resource attributes: OTLP stringValue (and
--       bytesValue, base64), intValue (Int64), doubleValue (Float64), boolValue
--       (0/1), arrayValue / kvlistValue (JSON text). Each key is in exactly one
--       of them; `attributes` / `resource_attributes` keep every value as a
--       string, as before, for existing readers.
--   links (spans)            JSON array of {trace_id, span_id, trace_state,
--                            attributes, dropped_attributes_count?, flags?}
--   trace_state, flags       Span.trace_state, Span.flags / LogRecord.flags
--   dropped_*_count          dropped attribute / event / link counts of the
--                            record, its resource and its scope
--   resource_schema_url, scope_schema_url, scope_attributes (JSON), scope_version (logs)
--   body_type (logs)         the body's AnyValue member: string, int, double,
--                            bool, bytes (body base64), array, kvlist (body JSON), empty
--   event_name (logs)        LogRecord.event_name
--
-- Rows stored before this migration have no typed maps on disk: for them
-- `*_string` reads as the old string map (DEFAULT) and the other typed maps as
-- empty, so they come back exactly as they were stored (strings: the old code
-- had already lost the types; Vigil does not guess them). New rows always
-- carry every column explicitly (processors/normalize), so the defaults never apply
-- to them. Re-runnable (IF NOT EXISTS).
ALTER TABLE {{database}}.spans
    ADD COLUMN IF NOT EXISTS attributes_string Map(LowCardinality(String), String) DEFAULT attributes,
    ADD COLUMN IF NOT EXISTS attributes_int Map(LowCardinality(String), Int64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_float Map(LowCardinality(String), Float64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_bool Map(LowCardinality(String), UInt8) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_json Map(LowCardinality(String), String) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_string Map(LowCardinality(String), String) DEFAULT resource_attributes,
    ADD COLUMN IF NOT EXISTS resource_attributes_int Map(LowCardinality(String), Int64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_float Map(LowCardinality(String), Float64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_bool Map(LowCardinality(String), UInt8) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_json Map(LowCardinality(String), String) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS resource_dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS resource_schema_url LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS scope_attributes String DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS scope_dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS scope_schema_url LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS flags UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS trace_state String DEFAULT '',
    ADD COLUMN IF NOT EXISTS dropped_events_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS dropped_links_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS links String DEFAULT '[]';

ALTER TABLE {{database}}.logs
    ADD COLUMN IF NOT EXISTS attributes_string Map(LowCardinality(String), String) DEFAULT attributes,
    ADD COLUMN IF NOT EXISTS attributes_int Map(LowCardinality(String), Int64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_float Map(LowCardinality(String), Float64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_bool Map(LowCardinality(String), UInt8) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS attributes_json Map(LowCardinality(String), String) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_string Map(LowCardinality(String), String) DEFAULT resource_attributes,
    ADD COLUMN IF NOT EXISTS resource_attributes_int Map(LowCardinality(String), Int64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_float Map(LowCardinality(String), Float64) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_bool Map(LowCardinality(String), UInt8) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_json Map(LowCardinality(String), String) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS resource_dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS resource_schema_url LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS scope_attributes String DEFAULT '{}',
    ADD COLUMN IF NOT EXISTS scope_dropped_attributes_count UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS scope_schema_url LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS flags UInt32 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS body_type LowCardinality(String) DEFAULT 'string',
    ADD COLUMN IF NOT EXISTS event_name LowCardinality(String) DEFAULT '',
    ADD COLUMN IF NOT EXISTS scope_version LowCardinality(String) DEFAULT '';
