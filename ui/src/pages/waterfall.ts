/**
 * Waterfall model of a trace: rows in depth-first order (as nested by the
 * API: children by start time), times relative to the trace start, and the
 * critical path.
 */
import type { SpanNode } from '../api';

export interface Row {
  span: SpanNode;
  depth: number;
  /** ms from the trace start. */
  startMs: number;
  durationMs: number;
  hasChildren: boolean;
  error: boolean;
}

export interface TraceModel {
  /** Every span, depth first (pre-order). */
  all: Row[];
  byId: Map<string, Row>;
  startNs: bigint;
  /** Latest end − earliest start, ms. */
  totalMs: number;
  critical: Set<string>;
  errors: number;
  services: string[];
}

const relMs = (ns: string, base: bigint): number => Number(BigInt(ns) - base) / 1e6;

export function buildModel(roots: SpanNode[]): TraceModel {
  let startNs: bigint | undefined;
  let endMs = 0;
  const visit = (s: SpanNode): void => {
    const n = BigInt(s.start_time_unix_nano);
    if (startNs === undefined || n < startNs) startNs = n;
    s.children.forEach(visit);
  };
  roots.forEach(visit);
  const base = startNs ?? 0n;
  const all: Row[] = [];
  const byId = new Map<string, Row>();
  const services = new Set<string>();
  let errors = 0;
  // Iterative pre-order walk (deep traces must not overflow the stack).
  const stack: Array<[SpanNode, number]> = roots.map((r) => [r, 0] as [SpanNode, number]).reverse();
  while (stack.length > 0) {
    const [s, depth] = stack.pop()!;
    const startMs = relMs(s.start_time_unix_nano, base);
    const row: Row = { span: s, depth, startMs, durationMs: s.duration_ms, hasChildren: s.children.length > 0, error: s.status === 'error' };
    if (row.error) errors++;
    services.add(s.service);
    all.push(row);
    byId.set(s.span_id, row);
    endMs = Math.max(endMs, startMs + s.duration_ms);
    for (let i = s.children.length - 1; i >= 0; i--) stack.push([s.children[i]!, depth + 1]);
  }
  return { all, byId, startNs: base, totalMs: endMs, critical: criticalPath(roots, byId), errors, services: [...services].sort() };
}

/**
 * The critical path (as Jaeger draws it): from each root's end, walk back
 * through the child that finished last before the current point (a child
 * ending after its parent is clamped to the parent's end), then the last one
 * finishing before that child's start, and so on, recursively: the spans
 * whose durations add up to the trace's.
 */
export function criticalPath(roots: SpanNode[], byId: Map<string, Row>): Set<string> {
  const out = new Set<string>();
  const queue: SpanNode[] = [...roots];
  while (queue.length > 0) {
    const s = queue.pop()!;
    out.add(s.span_id);
    const me = byId.get(s.span_id);
    if (me === undefined) continue;
    const end = me.startMs + me.durationMs;
    let cursor = end;
    const kids = s.children
      .map((c) => byId.get(c.span_id))
      .filter((r): r is Row => r !== undefined)
      .sort((a, b) => Math.min(b.startMs + b.durationMs, end) - Math.min(a.startMs + a.durationMs, end));
    for (const k of kids) {
      const kEnd = Math.min(k.startMs + k.durationMs, end);
      if (kEnd > cursor || k.startMs >= cursor) continue;
      queue.push(k.span);
      cursor = k.startMs;
      if (cursor <= me.startMs) break;
    }
  }
  return out;
}

/** Visible rows: the pre-order list without the descendants of collapsed spans. */
export function visibleRows(model: TraceModel, collapsed: ReadonlySet<string>): Row[] {
  if (collapsed.size === 0) return model.all;
  const out: Row[] = [];
  let hideBelow = -1;
  for (const r of model.all) {
    if (hideBelow >= 0 && r.depth > hideBelow) continue;
    hideBelow = -1;
    out.push(r);
    if (collapsed.has(r.span.span_id) && r.hasChildren) hideBelow = r.depth;
  }
  return out;
}

/** A span without its children, for copy-as-JSON. */
export function spanJson(s: SpanNode): string {
  const { children: _c, ...rest } = s;
  return JSON.stringify(rest, null, 2);
}
