-- Trace-by-id lookups at scale (issue 6). spans is sorted by
-- (tenant, service, name, start_time) and trace ids are random, so a trace's
-- spans are scattered; the bloom filter idx_trace_id has to be read for every
-- granule of the tenant (~15 KB per 8192 spans), which grows with the table:
-- measured ~170 ms at 20M spans, ~1 s at 100M (bench/README.md, bench:query).
--
-- This adds a projection index: a hidden copy of only (tenant, trace_id,
-- _part_offset) sorted by (tenant, trace_id). ClickHouse (≥ 25.5) finds the
-- matching rows through the projection's primary index and reads the span
-- columns from the table at those offsets (optimize_use_projection_filtering,
-- on by default); _part_offset survives merges. Cost: ~8 bytes per span on
-- disk (compressed) and a sort by trace id of every inserted block.
--
-- New parts get the projection on insert; existing parts get it from the
-- MATERIALIZE mutation, which runs in the background (queries are correct
-- while it runs; parts without it are searched with the bloom filter).
ALTER TABLE {{database}}.spans ADD PROJECTION IF NOT EXISTS trace_lookup (SELECT _part_offset ORDER BY tenant, trace_id);

ALTER TABLE {{database}}.spans MATERIALIZE PROJECTION trace_lookup;
