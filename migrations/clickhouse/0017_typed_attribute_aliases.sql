-- The typed attribute maps of 0007 as ALIAS columns over the layout of 0016
-- (values once, as text in `attributes` / `resource_attributes`; type codes
-- in `*_types`): `attributes_string` … `resource_attributes_json` read the
-- renamed physical maps (`*_v1`) for rows stored before 0016
-- (`attributes_format` = 0) and derive the same maps for new rows, so SQL
-- written against 0007's columns and the query API read both alike.
-- int / double texts are what the processors wrote (exact Int64 decimals,
-- JavaScript's round-trip doubles, 'NaN' / 'Infinity' / '-Infinity', which
-- ClickHouse parses); *OrZero only guards against rows written by other
-- means. Re-runnable (IF NOT EXISTS).

ALTER TABLE {{database}}.spans
    ADD COLUMN IF NOT EXISTS attributes_string Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, attributes_string_v1, mapFilter((k, v) -> NOT mapContains(attributes_types, k), attributes)),
    ADD COLUMN IF NOT EXISTS attributes_int Map(LowCardinality(String), Int64)
        ALIAS if(attributes_format = 0, attributes_int_v1, mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'int', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_float Map(LowCardinality(String), Float64)
        ALIAS if(attributes_format = 0, attributes_float_v1, mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'double', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS if(attributes_format = 0, attributes_bool_v1, mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> attributes_types[k] = 'bool', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_json Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, attributes_json_v1, mapApply((k, v) -> (k, if(attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> attributes_types[k] IN ('json', 'empty'), attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_string Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, resource_attributes_string_v1, mapFilter((k, v) -> NOT mapContains(resource_attributes_types, k), resource_attributes)),
    ADD COLUMN IF NOT EXISTS resource_attributes_int Map(LowCardinality(String), Int64)
        ALIAS if(attributes_format = 0, resource_attributes_int_v1, mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'int', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_float Map(LowCardinality(String), Float64)
        ALIAS if(attributes_format = 0, resource_attributes_float_v1, mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'double', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS if(attributes_format = 0, resource_attributes_bool_v1, mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> resource_attributes_types[k] = 'bool', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_json Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, resource_attributes_json_v1, mapApply((k, v) -> (k, if(resource_attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> resource_attributes_types[k] IN ('json', 'empty'), resource_attributes)));

ALTER TABLE {{database}}.logs
    ADD COLUMN IF NOT EXISTS attributes_string Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, attributes_string_v1, mapFilter((k, v) -> NOT mapContains(attributes_types, k), attributes)),
    ADD COLUMN IF NOT EXISTS attributes_int Map(LowCardinality(String), Int64)
        ALIAS if(attributes_format = 0, attributes_int_v1, mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'int', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_float Map(LowCardinality(String), Float64)
        ALIAS if(attributes_format = 0, attributes_float_v1, mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> attributes_types[k] = 'double', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS if(attributes_format = 0, attributes_bool_v1, mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> attributes_types[k] = 'bool', attributes))),
    ADD COLUMN IF NOT EXISTS attributes_json Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, attributes_json_v1, mapApply((k, v) -> (k, if(attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> attributes_types[k] IN ('json', 'empty'), attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_string Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, resource_attributes_string_v1, mapFilter((k, v) -> NOT mapContains(resource_attributes_types, k), resource_attributes)),
    ADD COLUMN IF NOT EXISTS resource_attributes_int Map(LowCardinality(String), Int64)
        ALIAS if(attributes_format = 0, resource_attributes_int_v1, mapApply((k, v) -> (k, toInt64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'int', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_float Map(LowCardinality(String), Float64)
        ALIAS if(attributes_format = 0, resource_attributes_float_v1, mapApply((k, v) -> (k, toFloat64OrZero(v)), mapFilter((k, v) -> resource_attributes_types[k] = 'double', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_bool Map(LowCardinality(String), UInt8)
        ALIAS if(attributes_format = 0, resource_attributes_bool_v1, mapApply((k, v) -> (k, toUInt8(v = 'true')), mapFilter((k, v) -> resource_attributes_types[k] = 'bool', resource_attributes))),
    ADD COLUMN IF NOT EXISTS resource_attributes_json Map(LowCardinality(String), String)
        ALIAS if(attributes_format = 0, resource_attributes_json_v1, mapApply((k, v) -> (k, if(resource_attributes_types[k] = 'empty', 'null', v)), mapFilter((k, v) -> resource_attributes_types[k] IN ('json', 'empty'), resource_attributes)));
