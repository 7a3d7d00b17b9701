/**
 * Rule preview (POST /api/v1/alerts/rules/preview): replay a rule, saved or
 * not, over a past range as the evaluator would have run it — one evaluation
 * every `interval` from `from` to `to`, each over the window ending at the
 * last closed minute before `t − evaluation_delay` — with the same signal
 * computation (alerts/signals.ts) and state machine (alerts/state-machine.ts).
 * Nothing is written.
 *
 * Answer shape:
 * ```
 * { from, to, interval_s, evaluations,
 *   series: [{ labels, points: [{ t, value, state }], fired_at: [t], resolved_at: [t] }] }
 * ```
 * Times ISO-8601 UTC; value in the signal's unit (see rule-schema.ts).
 */
import type { ClickHouseHandle } from '../platform/clickhouse.js';
import { ValidationError } from '../platform/errors.js';
import type { RuleSpec } from './rule-schema.js';
import { compare, mergeAggregates, needsSketch, readMinutes, signalValue, type MinuteAggregate } from './signals.js';
import { initialState, step, type AlertState, type InstanceState, type Outcome } from './state-machine.js';

/** Most evaluations one preview replays. */
export const MAX_PREVIEW_EVALUATIONS = 1440;
/** Most minute rows merged by one preview (evaluations × window minutes × series). */
const MAX_WORK = 3_000_000;
const MAX_WORK_SKETCH = 300_000;

export interface PreviewPoint {
  t: string;
  value: number | null;
  state: AlertState;
}

export interface PreviewSeries {
  labels: Record<string, string>;
  points: PreviewPoint[];
  fired_at: string[];
  resolved_at: string[];
}

export interface PreviewResult {
  from: string;
  to: string;
  interval_s: number;
  evaluations: number;
  series: PreviewSeries[];
}

const keyOf = (labels: Record<string, string>): string => JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));

/**
 * Replay `rule` over [fromMs, toMs).
 * @throws ValidationError `to` when the range needs more than {@link MAX_PREVIEW_EVALUATIONS}
 *   evaluations or too much work (names the fix); VigilError from ClickHouse as readMinutes.
 */
export async function previewRule(ch: ClickHouseHandle, tenant: string, rule: RuleSpec, fromMs: number, toMs: number): Promise<PreviewResult> {
  const iv = rule.interval_s * 1000;
  const first = Math.ceil(fromMs / iv) * iv;
  const times: number[] = [];
  for (let t = first; t < toMs; t += iv) {
    times.push(t);
    if (times.length > MAX_PREVIEW_EVALUATIONS) {
      throw new ValidationError('to', `the range holds more than ${MAX_PREVIEW_EVALUATIONS} evaluations of interval ${rule.interval_s} s; narrow from/to or use a longer interval`);
    }
  }
  const cond = rule.condition;
  const endOf = (t: number): number => Math.floor((Math.floor(t / 1000) - rule.evaluation_delay_s) / 60) * 60;
  const result: PreviewResult = { from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString(), interval_s: rule.interval_s, evaluations: times.length, series: [] };
  if (times.length === 0) return result;

  const rows = await readMinutes(ch, tenant, cond, endOf(times[0]!) - cond.window_s, endOf(times[times.length - 1]!));
  const bySeries = new Map<string, { labels: Record<string, string>; minutes: Map<number, MinuteAggregate> }>();
  for (const r of rows) {
    const k = keyOf(r.labels);
    let s = bySeries.get(k);
    if (s === undefined) bySeries.set(k, (s = { labels: r.labels, minutes: new Map() }));
    s.minutes.set(r.minuteS, r);
  }
  if (cond.signal === 'absence' && cond.group_by.length === 0 && bySeries.size === 0) bySeries.set(keyOf({}), { labels: {}, minutes: new Map() });
  const work = times.length * (cond.window_s / 60) * Math.max(1, bySeries.size);
  if (work > (needsSketch(cond.signal) ? MAX_WORK_SKETCH : MAX_WORK)) {
    throw new ValidationError('to', 'the preview needs too much work (evaluations × window minutes × series); narrow from/to, add filters or use fewer group_by dimensions');
  }

  const states = new Map<string, InstanceState>();
  const out = new Map<string, PreviewSeries>();
  for (const [k, s] of bySeries) out.set(k, { labels: s.labels, points: [], fired_at: [], resolved_at: [] });
  const seen = new Set<string>();

  for (const t of times) {
    const now = new Date(t);
    const end = endOf(t);
    const start = end - cond.window_s;
    const outcomes = new Map<string, { outcome: Outcome; value: number | null }>();
    for (const [k, s] of bySeries) {
      const parts: MinuteAggregate[] = [];
      for (let m = start; m < end; m += 60) {
        const a = s.minutes.get(m);
        if (a !== undefined) parts.push(a);
      }
      if (parts.length === 0 && cond.signal !== 'absence') continue;
      const agg = mergeAggregates(s.labels, parts);
      const { value, judged } = signalValue(cond, agg);
      const truth = judged && value !== null && compare(value, cond.operator, cond.threshold);
      outcomes.set(k, { outcome: { kind: truth ? 'true' : 'false', value }, value });
    }
    const noData = outcomes.size === 0;
    for (const [k, series] of out) {
      if (!outcomes.has(k) && !seen.has(k) && !noData) continue; // series not started yet
      let o = outcomes.get(k);
      if (o === undefined) {
        const nd: Outcome = rule.no_data_state === 'ok' ? { kind: 'false', value: null } : rule.no_data_state === 'alerting' ? { kind: 'true', value: null } : { kind: 'nodata' };
        o = { outcome: noData ? nd : { kind: 'false', value: null }, value: null };
      }
      seen.add(k);
      const prev = states.get(k) ?? initialState(now);
      const r = step(prev, o.outcome, now, { forS: rule.for_s, keepFiringForS: rule.keep_firing_for_s });
      states.set(k, r.next);
      const iso = now.toISOString();
      series.points.push({ t: iso, value: o.value, state: r.next.state });
      if (r.notify === 'firing') series.fired_at.push(iso);
      if (r.notify === 'resolved') series.resolved_at.push(iso);
    }
  }
  result.series = [...out.values()].filter((s) => s.points.length > 0);
  return result;
}
