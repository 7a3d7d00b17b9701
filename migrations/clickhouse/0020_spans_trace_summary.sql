-- Trace summaries and trace lookups from one narrow projection (issue 6).
--
-- The trace list (query-api/trace-list.ts) summarises its candidate traces
-- (`trace_id IN (…)`, ~59 ids per page) over all their spans. Through
-- trace_lookup (0006: only _part_offset, sorted by trace id) ClickHouse finds
-- the rows, but then reads them from the table, sorted by (tenant, service,
-- name, start_time): a page's ~590 spans lie in ~590 granules, and each
-- granule's columns are decompressed whole — 120–170 ms at 100M spans a day
-- (bench/README.md, "Dashboard queries").
--
-- trace_summary holds, sorted by (tenant, trace_id), the columns of the
-- summary query, so ClickHouse answers it from the projection alone. A
-- summary reads one granule per candidate and part, so the projection has
-- its own settings: granules of 256 rows and compression blocks of ≥ 2 KB
-- (with the table's 8,192 rows, or the default blocks of ≥ 64 KB, each such
-- read decompresses far more than the rows it needs). Measured on 12.5M
-- spans (bench/query-projection.ts): 59 summaries 144–174 ms through
-- trace_lookup, 20–25 ms from this projection. With _part_offset it is also
-- the index of trace-by-id lookups, as trace_lookup was, which it replaces.
-- Cost (bench/README.md): ~29 bytes per span more on disk than trace_lookup
-- (compressed; the spans themselves ~109), merges 1.33–1.56× the CPU, and
-- its primary index in memory once a part is queried (~16 MB per 100M spans).
--
-- Existing parts get the projection from the MATERIALIZE mutation; the
-- migration runner waits for it (platform/migrate.ts) before trace_lookup is
-- dropped, so lookups always have an index. Queries are correct throughout
-- (a part without a projection is read from the table). Re-runnable
-- (IF NOT EXISTS / IF EXISTS; a second MATERIALIZE rebuilds the projection).
ALTER TABLE {{database}}.spans ADD PROJECTION IF NOT EXISTS trace_summary (
    SELECT tenant, trace_id, start_time, end_time, status_code, service, parent_span_id, name,
        cost_usd, unpriced, input_tokens, output_tokens, cached_tokens, _part_offset
    ORDER BY tenant, trace_id
) WITH SETTINGS (index_granularity = 256, min_compress_block_size = 2048, max_compress_block_size = 65536);

ALTER TABLE {{database}}.spans MATERIALIZE PROJECTION trace_summary;

ALTER TABLE {{database}}.spans DROP PROJECTION IF EXISTS trace_lookup;
