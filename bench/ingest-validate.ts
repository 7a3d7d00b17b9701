/**
 * Side measurement for bench/README.md ("Trace intake fast path"): what
 * ingest spends per span to decide that a binary OTLP trace request may be
 * forwarded as received — the full path (ingest/otlp/wire.ts decode +
 * validate.ts) against the scan (ingest/otlp/scan.ts) that proves the same
 * without building the records.
 *
 *   npx tsx bench/ingest-validate.ts
 *
 * Method: 50 of the bench's OTLP requests (bench/e2e/request.ts: 100 spans,
 * ~20 attributes each, fresh ids), both paths over all 50 per run, 30 runs
 * each on one thread after a warm-up; CPU time (user + system) per span,
 * minimum and median of the runs.
 */
import { decodeTracesProtobuf } from '../ingest/otlp/decode.js';
import { scanTraces } from '../ingest/otlp/scan.js';
import { validateTraces } from '../ingest/otlp/validate.js';
import { acceptanceWindow } from '../schemas/limits.js';
import { makeTemplate, RequestFactory, SPANS_PER_REQUEST } from './e2e/request.js';

const factory = new RequestFactory(makeTemplate());
const bodies = Array.from({ length: 50 }, () => new Uint8Array(factory.next().body));
const window = acceptanceWindow({ retentionDays: 30 }, Date.now());
const spans = bodies.length * SPANS_PER_REQUEST;

function measure(label: string, fn: () => void): void {
  for (let i = 0; i < 5; i++) fn();
  const xs: number[] = [];
  for (let k = 0; k < 30; k++) {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    xs.push((c.user + c.system) / spans);
  }
  xs.sort((a, b) => a - b);
  process.stdout.write(`| ${label} | ${xs[0]!.toFixed(1)} | ${xs[15]!.toFixed(1)} |\n`);
}

process.stdout.write('| path | min µs CPU per span | median |\n|---|---|---|\n');
measure('decode + validate (full path)', () => {
  for (const b of bodies) validateTraces(decodeTracesProtobuf(b), 't', Date.now(), window);
});
measure('scan (fast path)', () => {
  for (const b of bodies) if (scanTraces(b, window) === null) throw new Error('the bench request must take the fast path');
});
