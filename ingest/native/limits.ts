/**
 * Native records against what storage accepts (schemas/limits.ts): times in
 * the acceptance window, attribute objects nested at most MAX_VALUE_DEPTH.
 * Checked after the zod schema, per record, so a bad record is rejected by
 * name and the rest of the batch is accepted.
 */
import { MAX_VALUE_DEPTH, timeProblem, type TimeWindow } from '../../schemas/limits.js';
import { msToNs } from '../../schemas/time.js';
import type { NativeLog, NativeSpan } from '../../schemas/native.js';

/** Nesting depth of a JSON value, counted iteratively (no recursion); stops once past `limit`. */
export function depthExceeds(value: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (d > limit) return true;
    for (const child of Object.values(v as Record<string, unknown>)) stack.push([child, d + 1]);
  }
  return false;
}

/** Non-finite or negative ms → null; else ns. */
function ns(ms: number): bigint | null {
  return Number.isFinite(ms) && ms >= 0 && ms < 8.64e15 ? msToNs(ms) : null;
}

/** The first storage problem of a native span as `[field, reason]`, or null. */
export function nativeSpanProblem(s: NativeSpan, w: TimeWindow): [string, string] | null {
  const start = ns(s.start_time);
  if (start === null) return ['start_time', 'is not a representable time'];
  const startProblem = timeProblem(start, w);
  if (startProblem !== null) return ['start_time', startProblem];
  const endMs = s.end_time ?? s.start_time + (s.duration_ms ?? 0);
  const end = ns(endMs);
  const field = s.end_time !== undefined ? 'end_time' : 'duration_ms';
  if (end === null) return [field, 'is not a representable time'];
  const endProblem = timeProblem(end, w);
  if (endProblem !== null) return [field, endProblem];
  for (const f of ['attributes', 'resource'] as const) {
    if (depthExceeds(s[f], MAX_VALUE_DEPTH)) return [f, `nested deeper than ${MAX_VALUE_DEPTH} levels; flatten it`];
  }
  return null;
}

/** The first storage problem of a native log record as `[field, reason]`, or null. */
export function nativeLogProblem(r: NativeLog, w: TimeWindow): [string, string] | null {
  const t = ns(r.time);
  if (t === null) return ['time', 'is not a representable time'];
  const p = timeProblem(t, w);
  if (p !== null) return ['time', p];
  for (const f of ['attributes', 'resource'] as const) {
    if (depthExceeds(r[f], MAX_VALUE_DEPTH)) return [f, `nested deeper than ${MAX_VALUE_DEPTH} levels; flatten it`];
  }
  return null;
}
