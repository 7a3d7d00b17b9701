-- Inserted parts of spans and logs in the Compact format (issue 6).
--
-- A Wide part writes two files per column (data and marks; for Map columns per
-- subcolumn), a Compact part one data file and one marks file for all columns.
-- ClickHouse makes a part Wide from min_bytes_for_wide_part = 10 MiB
-- (uncompressed) by default; the processors' inserts are 10,000–20,000 spans
-- of ~1 KB each, so at that default they are Wide. Measured with
-- bench/insert-ab.ts (inserts of 20,000 spans, 4 runs, both orders;
-- bench/README.md): chDB insert CPU 4.2–5.4 → 3.3–3.8 µs per span
-- (0.70–0.80×), merge CPU 0.85–1.00×.
--
-- Parts stay Compact until a merge makes one of ≥ 128 MiB (~130,000 spans),
-- which is written Wide as before; queries read both formats. Only new parts
-- are affected (a setting change: nothing is rewritten). Re-runnable.
ALTER TABLE {{database}}.spans MODIFY SETTING min_bytes_for_wide_part = 134217728;

ALTER TABLE {{database}}.logs MODIFY SETTING min_bytes_for_wide_part = 134217728;
