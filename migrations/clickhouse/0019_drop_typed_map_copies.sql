-- The typed-map copies of 0007 (`*_v1`): every row reads its typed maps from
-- the text map and `*_types` since 0018, so these ten columns per table are
-- dropped (their files are removed; no other column is rewritten). Inserts
-- from processors of a version before 0018 name these columns and fail from
-- here on (their messages go to the DLQ): upgrade the processors with the
-- migration. Re-runnable (IF EXISTS).

ALTER TABLE {{database}}.spans
    DROP COLUMN IF EXISTS attributes_string_v1,
    DROP COLUMN IF EXISTS attributes_int_v1,
    DROP COLUMN IF EXISTS attributes_float_v1,
    DROP COLUMN IF EXISTS attributes_bool_v1,
    DROP COLUMN IF EXISTS attributes_json_v1,
    DROP COLUMN IF EXISTS resource_attributes_string_v1,
    DROP COLUMN IF EXISTS resource_attributes_int_v1,
    DROP COLUMN IF EXISTS resource_attributes_float_v1,
    DROP COLUMN IF EXISTS resource_attributes_bool_v1,
    DROP COLUMN IF EXISTS resource_attributes_json_v1;

ALTER TABLE {{database}}.logs
    DROP COLUMN IF EXISTS attributes_string_v1,
    DROP COLUMN IF EXISTS attributes_int_v1,
    DROP COLUMN IF EXISTS attributes_float_v1,
    DROP COLUMN IF EXISTS attributes_bool_v1,
    DROP COLUMN IF EXISTS attributes_json_v1,
    DROP COLUMN IF EXISTS resource_attributes_string_v1,
    DROP COLUMN IF EXISTS resource_attributes_int_v1,
    DROP COLUMN IF EXISTS resource_attributes_float_v1,
    DROP COLUMN IF EXISTS resource_attributes_bool_v1,
    DROP COLUMN IF EXISTS resource_attributes_json_v1;
