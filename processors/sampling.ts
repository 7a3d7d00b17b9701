/**
 * Head sampling of traces by trace id (flag `vigil.sampling.keep_ratio`,
 * flags/switches.ts), applied by the worker threads AFTER the aggregates were
 * computed from every span — so counts, error rates, latency sketches, tokens
 * and cost stay exact while only the kept traces' spans are stored.
 *
 * Decision per trace: W3C Trace Context Level 2 makes the rightmost 7 bytes
 * (56 bits) of a trace id random; the trace is kept when that number is below
 * `ratio · 2^56`. Every process and batch decides the same for one trace id,
 * so kept traces are stored whole. A trace with an error span in the batch is
 * kept whatever its hash ("errors always kept"); should an error span arrive in
 * a later batch than the rest of its unsampled trace, only the spans from its
 * batch on are stored.
 */
import type { SpanRow } from '../schemas/rows.js';

const TWO_56 = 2 ** 56;

/** Whether the trace id's random part falls under `ratio` (see module doc). */
export function traceSampled(traceId: string, ratio: number): boolean {
  if (ratio >= 1) return true;
  if (ratio <= 0) return false;
  const tail = traceId.slice(-14);
  const n = Number.parseInt(tail, 16);
  if (!Number.isFinite(n)) return true; // not hex: keep rather than drop
  return n < ratio * TWO_56;
}

/**
 * Keep the spans of sampled traces and of traces with an error span.
 * @param keepRatio tenant → ratio in [0, 1]; tenants not listed keep everything.
 */
export function sampleSpans(spans: SpanRow[], keepRatio: Readonly<Record<string, number>> | undefined): SpanRow[] {
  if (keepRatio === undefined || Object.keys(keepRatio).length === 0) return spans;
  const errorTraces = new Set<string>();
  for (const s of spans) if (s.status_code === 'error') errorTraces.add(`${s.tenant}/${s.trace_id}`);
  return spans.filter((s) => {
    const ratio = keepRatio[s.tenant];
    if (ratio === undefined || ratio >= 1) return true;
    return errorTraces.has(`${s.tenant}/${s.trace_id}`) || traceSampled(s.trace_id, ratio);
  });
}
