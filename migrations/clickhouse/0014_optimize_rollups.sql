-- Fold the rebuilt sketch rollups into one part per partition (issue 6).
-- 0012/0013 refilled span_metrics_1h / _5m with INSERT … SELECT, which writes
-- parts in arbitrary key order: every part then holds some rows of every
-- series and hour, so a windowed query reads one or two granules per series
-- in every part. Measured with bench:query at 100M spans/day: the < 1 h tail
-- of a "last 24 h" query read from the 12 parts 0013 left took ~52 ms, ~26 ms
-- after merging (bench/README.md). New data arrives in time order through the
-- views and is merged in the background as usual. The tables are small (tens
-- of MB per month at 100M spans/day), so this takes seconds.
OPTIMIZE TABLE {{database}}.span_metrics_1h FINAL;

OPTIMIZE TABLE {{database}}.span_metrics_5m FINAL;
