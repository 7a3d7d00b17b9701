/**
 * Feature-flag evaluations of one processor batch, aggregated per minute for
 * table flag_variant_metrics_1m (migrations/clickhouse/0015_flag_variant_metrics_1m.sql,
 * row shape FlagVariantMetricRow in schemas/rows.ts), which
 * GET /api/v1/experiments/:flag reads (flags/experiments.ts).
 *
 * Source: OpenTelemetry semantic conventions for feature flags
 * (https://opentelemetry.io/docs/specs/semconv/feature-flags/): an evaluation
 * is recorded on the active span as the event `feature_flag.evaluation` with
 * attributes `feature_flag.key` and `feature_flag.result.variant` (what
 * @openfeature/core's createEvaluationEvent and the OpenFeature OTel hooks
 * emit); older instrumentation sets span attributes `feature_flag.key` and
 * `feature_flag.variant` (or `feature_flag.result.variant`) instead.
 *
 * Which flags a span evaluates ({@link flagEvaluations}):
 * - the span attribute `feature_flag.key`, with variant
 *   `feature_flag.result.variant`, else `feature_flag.variant`;
 * - every other flag key of a `feature_flag.evaluation` event in the span's
 *   events (the JSON the normaliser stores), with that event's
 *   `feature_flag.result.variant` (else `feature_flag.variant`); the first
 *   event of a flag wins, and the attributes win over the events.
 * Only string values count; an evaluation without a variant (e.g. an error
 * evaluation that fell back to the code default) is ignored.
 *
 * Each (span, flag) with a variant is one request of that variant: the span's
 * duration is its latency, status 'error' an error, and the span's own
 * cost_usd (USD; null/unpriced counts 0) and token counts its cost and tokens.
 * A worker sees one batch, never a whole trace, so costs of other spans of the
 * trace (e.g. an LLM call under the request span) are not attributed.
 *
 * Output rows are partial (one per (tenant, minute, flag, variant, service,
 * operation) per batch, in order of first appearance), so they merge exactly
 * in ClickHouse and a replayed batch produces identical insert blocks
 * (insert deduplication).
 */
import type { FlagVariantMetricRow, SpanRow } from '../schemas/rows.js';
import { keyOf, minuteOf, type AggregatedSpan } from './aggregate.js';
import { SketchAccumulator } from './sketch.js';

/** Name of the semantic-convention evaluation event. */
export const EVALUATION_EVENT = 'feature_flag.evaluation';

/** One flag a span evaluated, with the variant it got. */
export interface FlagEvaluation {
  flag: string;
  variant: string;
}

const KEY = 'feature_flag.key';
const RESULT_VARIANT = 'feature_flag.result.variant';
const OLD_VARIANT = 'feature_flag.variant';

/** The span attributes {@link flagEvaluations} reads. */
export const FLAG_ATTRIBUTE_KEYS: readonly string[] = [KEY, RESULT_VARIANT, OLD_VARIANT];

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * The flags a span evaluated, with variants (rules in the module doc), in
 * order: the attribute evaluation first, then events in event order.
 * @param span a normalised span (attributes as strings, events as the JSON
 *   array `[{time_unix_nano, name, attributes}]` with typed attribute values).
 * @returns one entry per distinct flag with a non-empty variant; [] when none
 *   (also for events that are not valid JSON).
 */
export function flagEvaluations(span: Pick<SpanRow, 'attributes' | 'events'>): FlagEvaluation[] {
  const out: FlagEvaluation[] = [];
  const seen = new Set<string>();
  const attrFlag = span.attributes[KEY] ?? '';
  if (attrFlag !== '') {
    seen.add(attrFlag);
    const variant = span.attributes[RESULT_VARIANT] || span.attributes[OLD_VARIANT] || '';
    if (variant !== '') out.push({ flag: attrFlag, variant });
  }
  // Cheap pre-check: most spans record no evaluation, and their events are not parsed.
  if (!span.events.includes(EVALUATION_EVENT)) return out;
  let events: unknown;
  try {
    events = JSON.parse(span.events);
  } catch {
    return out;
  }
  if (!Array.isArray(events)) return out;
  for (const e of events as unknown[]) {
    if (typeof e !== 'object' || e === null) continue;
    const ev = e as { name?: unknown; attributes?: unknown };
    if (ev.name !== EVALUATION_EVENT || typeof ev.attributes !== 'object' || ev.attributes === null) continue;
    const a = ev.attributes as Record<string, unknown>;
    const flag = str(a[KEY]);
    if (flag === '' || seen.has(flag)) continue;
    seen.add(flag);
    const variant = str(a[RESULT_VARIANT]) || str(a[OLD_VARIANT]);
    if (variant !== '') out.push({ flag, variant });
  }
  return out;
}

/** The fields of a span the flag aggregates read. */
export type FlagSpan = AggregatedSpan & Pick<SpanRow, 'attributes' | 'events'>;

interface Acc {
  row: Omit<FlagVariantMetricRow, 'sketch_bins' | 'sketch_zero'>;
  sketch: SketchAccumulator;
}

/**
 * Accumulates {@link aggregateFlagVariants} over a batch given in parts
 * ({@link add} per chunk of spans, then {@link finish}): the same rows, in
 * the same order, as one call over the concatenated parts.
 */
export class FlagVariantAggregator {
  private readonly accs = new Map<string, Acc>();

  /**
   * Add spans (start_time a DateTime64(9) UTC literal, duration_ns in ns, cost_usd in USD or null).
   * @throws RangeError when a start_time is not a DateTime64 literal.
   */
  add(spans: readonly FlagSpan[]): this {
    const accs = this.accs;
    for (const s of spans) {
      const evaluations = flagEvaluations(s);
      if (evaluations.length === 0) continue;
      const minute = minuteOf(s.start_time);
      const ms = s.duration_ns / 1e6;
      const cost = s.cost_usd ?? 0;
      for (const { flag, variant } of evaluations) {
        const k = keyOf([s.tenant, minute, flag, variant, s.service, s.name]);
        let acc = accs.get(k);
        if (!acc) {
          acc = {
            row: {
              tenant: s.tenant, minute, flag, variant, service: s.service, operation: s.name,
              count: 0, error_count: 0, duration_sum_ns: 0, duration_sq_sum_ms2: 0,
              cost_usd: 0, cost_sq_sum_usd2: 0, unpriced_count: 0, input_tokens: 0, output_tokens: 0, cached_tokens: 0,
            },
            sketch: new SketchAccumulator(),
          };
          accs.set(k, acc);
        }
        const r = acc.row;
        r.count += 1;
        if (s.status_code === 'error') r.error_count += 1;
        r.duration_sum_ns += s.duration_ns;
        r.duration_sq_sum_ms2 += ms * ms;
        r.cost_usd += cost;
        r.cost_sq_sum_usd2 += cost * cost;
        r.unpriced_count += s.unpriced;
        r.input_tokens += s.input_tokens;
        r.output_tokens += s.output_tokens;
        r.cached_tokens += s.cached_tokens;
        acc.sketch.add(ms);
      }
    }
    return this;
  }

  /** The partial rows (see {@link aggregateFlagVariants}). */
  finish(): FlagVariantMetricRow[] {
    const out: FlagVariantMetricRow[] = [];
    for (const { row, sketch } of this.accs.values()) out.push({ ...row, sketch_bins: sketch.toBins(), sketch_zero: sketch.zero });
    return out;
  }
}

/**
 * Aggregate the flag evaluations of a batch's spans per
 * (tenant, minute, flag, variant, service, operation).
 * @param spans normalised spans (start_time a DateTime64(9) UTC literal,
 *   duration_ns in ns, cost_usd in USD or null).
 * @returns partial rows: count, error_count, duration_sum_ns (ns),
 *   duration_sq_sum_ms2 (ms²), cost_usd (USD), cost_sq_sum_usd2 (USD²),
 *   unpriced_count, token sums and the DDSketch of durations in ms; in order of
 *   first appearance of each key.
 * @throws RangeError when a start_time is not a DateTime64 literal.
 */
export function aggregateFlagVariants(spans: readonly FlagSpan[]): FlagVariantMetricRow[] {
  return new FlagVariantAggregator().add(spans).finish();
}
