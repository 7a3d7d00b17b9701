/**
 * Build a span tree from a flat list of spans of one trace.
 */

/** The minimum a node needs: ids, start (ns, for ordering) and a children array. */
export interface TreeSpan {
  span_id: string;
  parent_span_id: string;
  start_time_unix_nano: string;
  children: TreeSpan[];
}

/**
 * Nest spans under their parents.
 * @param spans every span of one trace (mutated: `children` filled).
 * @returns the roots: spans without a parent id, or whose parent is not in `spans`
 *   (orphans), or that are part of a parent cycle. Roots and children are ordered by
 *   start time, then span id. A duplicate span id keeps the first occurrence.
 */
export function buildTree<T extends TreeSpan>(spans: T[]): T[] {
  const byId = new Map<string, T>();
  for (const s of spans) if (!byId.has(s.span_id)) byId.set(s.span_id, s);
  const roots: T[] = [];
  for (const s of byId.values()) {
    const parent = s.parent_span_id === '' ? undefined : byId.get(s.parent_span_id);
    if (parent === undefined || parent === s || hasAncestor(parent, s, byId)) roots.push(s);
    else parent.children.push(s);
  }
  const order = (a: TreeSpan, b: TreeSpan): number => {
    const d = BigInt(a.start_time_unix_nano) - BigInt(b.start_time_unix_nano);
    return d < 0n ? -1 : d > 0n ? 1 : a.span_id < b.span_id ? -1 : a.span_id > b.span_id ? 1 : 0;
  };
  const sortDeep = (nodes: TreeSpan[]): void => {
    nodes.sort(order);
    for (const n of nodes) sortDeep(n.children);
  };
  sortDeep(roots);
  return roots;
}

/** True when `target` is an ancestor of `node` (walking parent ids), i.e. linking would close a cycle. */
function hasAncestor<T extends TreeSpan>(node: T, target: T, byId: Map<string, T>): boolean {
  const seen = new Set<string>();
  let cur: T | undefined = node;
  while (cur !== undefined && !seen.has(cur.span_id)) {
    if (cur === target) return true;
    seen.add(cur.span_id);
    cur = cur.parent_span_id === '' ? undefined : byId.get(cur.parent_span_id);
  }
  return false;
}
