-- Rows stored before 0016 in the layout of 0016 (issue 6), so that the
-- typed-map copies of 0007 (`*_v1`) can go (0019). Since 0016 every new row
-- keeps each attribute value once, as text, with the OTLP type of its
-- non-string keys in `attributes_types` / `resource_attributes_types`
-- (`attributes_format` = 1); the ten `*_v1` maps stayed in the table, empty
-- for new rows, to hold the values of older rows (`attributes_format` = 0).
-- Writing those ten empty maps into every insert, and merging them, cost about
-- half of the spans insert's CPU and a fifth of a merge's (bench/README.md,
-- "The typed-map copies dropped").
--
-- 1. Each old row gets its type codes from the typed map its key was in: int,
--    double, bool; json, or 'empty' for the 'null' of an AnyValue without a
--    value (arrays and kvlists, the other values of `*_json`, never have the
--    text 'null'; so the text map need not be read, which keeps this mutation
--    to the typed maps, mostly empty). Keys in no typed map are strings, as 0016
--    reads them. The text map already holds every value exactly as a new row
--    would (the processors wrote the same texts since 0007; rows from before
--    0007 had no types and read as strings, as they still do). A mutation of
--    the old parts only: it rewrites these three small columns and nothing
--    else. The migration runner waits until ClickHouse has applied it to every
--    part (platform/migrate.ts), so no old row is read through the new
--    aliases before it is converted.
-- 2. The typed-map names become ALIAS columns of the text and the types alone.
--    Stop the processors of a version before 0016 first: rows they insert in
--    the old layout after step 1 would read as strings only.
--
-- Re-runnable: the UPDATE finds no row left with format 0; MODIFY sets the
-- same alias again. 0019 drops the `*_v1` columns in a file of its own, so
-- that a re-run of this file never refers to a dropped column.

ALTER TABLE {{database}}.spans
    UPDATE
        attributes_types = CAST(mapConcat(
            mapApply((k, v) -> (k, 'int'), attributes_int_v1),
            mapApply((k, v) -> (k, 'double'), attributes_float_v1),
            mapApply((k, v) -> (k, 'bool'), attributes_bool_v1),
            mapApply((k, v) -> (k, if(v = 'null', 'empty', 'json')), attributes_json_v1)),
            'Map(LowCardinality(String), Enum8(''int'' = 1, ''double'' = 2, ''bool'' = 3, ''json'' = 4, ''empty'' = 5))'),
        resource_attributes_types = CAST(mapConcat(
            mapApply((k, v) -> (k, 'int'), resource_attributes_int_v1),
            mapApply((k, v) -> (k, 'double'), resource_attributes_float_v1),
            mapApply((k, v) -> (k, 'bool'), resource_attributes_bool_v1),
            mapApply((k, v) -> (k, if(v = 'null', 'empty', 'json')), resource_attributes_json_v1)),
            'Map(LowCardinality(String), Enum8(''int'' = 1, ''double'' = 2, ''bool'' = 3, ''json'' = 4, ''empty'' = 5))'),
        attributes_format = 1
    WHERE attributes_format = 0;

ALTER TABLE {{database}}.logs
    UPDATE
        attributes_types = CAST(mapConcat(
            mapApply((k, v) -> (k, 'int'), attributes_int_v1),
            mapApply((k, v) -> (k, 'double'), attributes_float_v1),
            mapApply((k, v) -> (k, 'bool'), attributes_bool_v1),
            mapApply((k, v) -> (k, if(v = 'null', 'empty', 'json')), attributes_json_v1)),
            'Map(LowCardinality(String), Enum8(''int'' = 1, ''double'' = 2, ''bool'' = 3, ''json'' = 4, ''empty'' = 5))'),
        resource_attributes_types = CAST(mapConcat(
            mapApply((k, v) -> (k, 'int'), resource_attributes_int_v1),
            mapApply((k, v) -> (k, 'double'), resource_attributes_float_v1),
            mapApply((k, v) -> (k, 'bool'), resource_attributes_bool_v1),
            mapApply((k, v) -> (k, if(v = 'null', 'empty', 'json')), resource_attributes_json_v1)),
            'Map(LowCardinality(String), Enum8(''int'' = 1, ''double'' = 2, ''bool'' = 3, ''json'' = 4, ''empty'' = 5))'),
        attributes_format = 1
    WHERE attributes_format = 0;

ALTER TABLE {{database}}.spans
    MODIFY COLUMN attributes_string Map(LowCardinality(String), String)
        ALIAS mapFilter((k, v) -> NOT mapContains(attributes_types, k), attributes),
    MODIFY COLUMN attributes_int Map(LowCardinality(String), Int64)
        ALIAS mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'int', attributes)),
    MODIFY COLUMN attributes_float Map(LowCardinality(String), Float64)
        ALIAS mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'double', attributes)),
    MODIFY COLUMN attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> attributes_types[k] = 'bool', attributes)),
    MODIFY COLUMN attributes_json Map(LowCardinality(String), String)
        ALIAS mapApply((k, v) -> (k, if(attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> attributes_types[k] IN ('json', 'empty'), attributes)),
    MODIFY COLUMN resource_attributes_string Map(LowCardinality(String), String)
        ALIAS mapFilter((k, v) -> NOT mapContains(resource_attributes_types, k), resource_attributes),
    MODIFY COLUMN resource_attributes_int Map(LowCardinality(String), Int64)
        ALIAS mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'int', resource_attributes)),
    MODIFY COLUMN resource_attributes_float Map(LowCardinality(String), Float64)
        ALIAS mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'double', resource_attributes)),
    MODIFY COLUMN resource_attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> resource_attributes_types[k] = 'bool', resource_attributes)),
    MODIFY COLUMN resource_attributes_json Map(LowCardinality(String), String)
        ALIAS mapApply((k, v) -> (k, if(resource_attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> resource_attributes_types[k] IN ('json', 'empty'), resource_attributes)),
    MODIFY COLUMN attributes_format UInt8 DEFAULT 1;

ALTER TABLE {{database}}.logs
    MODIFY COLUMN attributes_string Map(LowCardinality(String), String)
        ALIAS mapFilter((k, v) -> NOT mapContains(attributes_types, k), attributes),
    MODIFY COLUMN attributes_int Map(LowCardinality(String), Int64)
        ALIAS mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'int', attributes)),
    MODIFY COLUMN attributes_float Map(LowCardinality(String), Float64)
        ALIAS mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'double', attributes)),
    MODIFY COLUMN attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> attributes_types[k] = 'bool', attributes)),
    MODIFY COLUMN attributes_json Map(LowCardinality(String), String)
        ALIAS mapApply((k, v) -> (k, if(attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> attributes_types[k] IN ('json', 'empty'), attributes)),
    MODIFY COLUMN resource_attributes_string Map(LowCardinality(String), String)
        ALIAS mapFilter((k, v) -> NOT mapContains(resource_attributes_types, k), resource_attributes),
    MODIFY COLUMN resource_attributes_int Map(LowCardinality(String), Int64)
        ALIAS mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'int', resource_attributes)),
    MODIFY COLUMN resource_attributes_float Map(LowCardinality(String), Float64)
        ALIAS mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'double', resource_attributes)),
    MODIFY COLUMN resource_attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> resource_attributes_types[k] = 'bool', resource_attributes)),
    MODIFY COLUMN resource_attributes_json Map(LowCardinality(String), String)
        ALIAS mapApply((k, v) -> (k, if(resource_attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> resource_attributes_types[k] IN ('json', 'empty'), resource_attributes)),
    MODIFY COLUMN attributes_format UInt8 DEFAULT 1;
