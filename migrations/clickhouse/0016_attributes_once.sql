-- Attribute values stored once (issue 6): a span's or log record's attributes
-- were stored twice since 0007 — every value as a string in `attributes` /
-- `resource_attributes`, and again in the typed map of its OTLP type
-- (`*_string`, `*_int`, `*_float`, `*_bool`, `*_json`): ~45 % of the bytes the
-- processors sent per span, and the same share of insert and merge work.
-- From this migration on, new rows keep each value once, as text in
-- `attributes` / `resource_attributes` (as before), and the OTLP type of the
-- keys whose value is not a string in a small map beside it:
--
--   attributes_types / resource_attributes_types
--       key → 'int' (text: exact decimal Int64), 'double' (text: JavaScript's
--       shortest round-trip form; 'NaN' / 'Infinity' / '-Infinity'), 'bool'
--       ('true' / 'false'), 'json' (arrayValue / kvlistValue as compact JSON),
--       'empty' (an AnyValue with no value; text ''). Keys without an entry
--       are strings (bytesValue: base64 text, as before).
--   attributes_format
--       0: a row stored before this migration — its typed maps hold the
--          values (now in the `*_v1` columns); 1: a row written with the
--          layout above. One flag for both prefixes.
--
-- The typed-map names stay readable for SQL users and for the query API:
-- the physical maps are renamed `*_v1` (files renamed, no row rewritten), and
-- `attributes_string` … `resource_attributes_json` become ALIAS columns that
-- read `*_v1` for old rows and derive the same maps from the text and the
-- types for new rows. Rows stored before 0007 keep reading
-- `*_string` as their string map (the `*_string_v1` DEFAULT, now conditional
-- on the format so that new rows do not store a copy). Nothing is copied;
-- the `*_v1` columns are empty for new rows and can be dropped by a later
-- migration once retention has expired every old row.
--
-- The aliases are added by 0017: ClickHouse checks an ALTER's IF NOT EXISTS
-- against the table as it was before the ALTER, and a RENAME that is re-run
-- after the aliases exist would fail; in two files, each statement here
-- re-runs cleanly after a partial failure (IF EXISTS / IF NOT EXISTS, and a
-- MODIFY that sets the same default again).


ALTER TABLE {{database}}.spans
    ADD COLUMN IF NOT EXISTS attributes_format UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS attributes_types Map(LowCardinality(String), Enum8('int' = 1, 'double' = 2, 'bool' = 3, 'json' = 4, 'empty' = 5)) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_types Map(LowCardinality(String), Enum8('int' = 1, 'double' = 2, 'bool' = 3, 'json' = 4, 'empty' = 5)) DEFAULT map();

ALTER TABLE {{database}}.spans
    RENAME COLUMN IF EXISTS attributes_string TO attributes_string_v1,
    RENAME COLUMN IF EXISTS attributes_int TO attributes_int_v1,
    RENAME COLUMN IF EXISTS attributes_float TO attributes_float_v1,
    RENAME COLUMN IF EXISTS attributes_bool TO attributes_bool_v1,
    RENAME COLUMN IF EXISTS attributes_json TO attributes_json_v1,
    RENAME COLUMN IF EXISTS resource_attributes_string TO resource_attributes_string_v1,
    RENAME COLUMN IF EXISTS resource_attributes_int TO resource_attributes_int_v1,
    RENAME COLUMN IF EXISTS resource_attributes_float TO resource_attributes_float_v1,
    RENAME COLUMN IF EXISTS resource_attributes_bool TO resource_attributes_bool_v1,
    RENAME COLUMN IF EXISTS resource_attributes_json TO resource_attributes_json_v1;

ALTER TABLE {{database}}.spans
    MODIFY COLUMN attributes_string_v1 DEFAULT if(attributes_format = 0, attributes, map()),
    MODIFY COLUMN resource_attributes_string_v1 DEFAULT if(attributes_format = 0, resource_attributes, map());

ALTER TABLE {{database}}.logs
    ADD COLUMN IF NOT EXISTS attributes_format UInt8 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS attributes_types Map(LowCardinality(String), Enum8('int' = 1, 'double' = 2, 'bool' = 3, 'json' = 4, 'empty' = 5)) DEFAULT map(),
    ADD COLUMN IF NOT EXISTS resource_attributes_types Map(LowCardinality(String), Enum8('int' = 1, 'double' = 2, 'bool' = 3, 'json' = 4, 'empty' = 5)) DEFAULT map();

ALTER TABLE {{database}}.logs
    RENAME COLUMN IF EXISTS attributes_string TO attributes_string_v1,
    RENAME COLUMN IF EXISTS attributes_int TO attributes_int_v1,
    RENAME COLUMN IF EXISTS attributes_float TO attributes_float_v1,
    RENAME COLUMN IF EXISTS attributes_bool TO attributes_bool_v1,
    RENAME COLUMN IF EXISTS attributes_json TO attributes_json_v1,
    RENAME COLUMN IF EXISTS resource_attributes_string TO resource_attributes_string_v1,
    RENAME COLUMN IF EXISTS resource_attributes_int TO resource_attributes_int_v1,
    RENAME COLUMN IF EXISTS resource_attributes_float TO resource_attributes_float_v1,
    RENAME COLUMN IF EXISTS resource_attributes_bool TO resource_attributes_bool_v1,
    RENAME COLUMN IF EXISTS resource_attributes_json TO resource_attributes_json_v1;

ALTER TABLE {{database}}.logs
    MODIFY COLUMN attributes_string_v1 DEFAULT if(attributes_format = 0, attributes, map()),
    MODIFY COLUMN resource_attributes_string_v1 DEFAULT if(attributes_format = 0, resource_attributes, map());
