import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor } from '../../query-api/cursor.js';
import { nsToIso, parseTimeNs } from '../../query-api/params.js';
import { buildTree, type TreeSpan } from '../../query-api/trace-tree.js';

describe('parseTimeNs / nsToIso', () => {
  it('parses ISO-8601 (ns precision, zones) and epoch ms', () => {
    expect(parseTimeNs('2026-01-01T00:00:00.123456789Z')).toBe(1767225600123456789n);
    expect(parseTimeNs('2026-01-01T01:00:00+01:00')).toBe(1767225600000000000n);
    expect(parseTimeNs('2026-01-01T01:00+0100')).toBe(1767225600000000000n);
    expect(parseTimeNs('1767225600123')).toBe(1767225600123000000n);
    expect(parseTimeNs('1767225600123.5')).toBe(1767225600123500000n);
    expect(parseTimeNs('1767225600')).toBeUndefined(); // seconds
    expect(parseTimeNs('2026-01-01')).toBeUndefined(); // no time / zone
    expect(parseTimeNs('2026-13-01T00:00:00Z')).toBeUndefined();
    expect(nsToIso(1767225600000000001n)).toBe('2026-01-01T00:00:00.000000001Z');
  });
});

describe('cursor', () => {
  it('round-trips and rejects garbage', () => {
    const c = encodeCursor({ ns: 1767225600123456789n, tie: '123' });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, 'logs')).toEqual({ ns: 1767225600123456789n, tie: '123' });
    expect(() => decodeCursor('%%%', 'logs')).toThrow(/^cursor: /);
    expect(() => decodeCursor(Buffer.from('["x","y"]').toString('base64url'), 'traces')).toThrow(/^cursor: /);
  });
});

describe('buildTree', () => {
  const span = (span_id: string, parent_span_id: string, start: number): TreeSpan => ({
    span_id,
    parent_span_id,
    start_time_unix_nano: String(start),
    children: [],
  });
  it('nests, orders by start, makes orphans and cycle members roots', () => {
    const roots = buildTree([span('c', 'a', 3), span('a', '', 1), span('b', 'a', 2), span('o', 'zz', 0), span('x', 'y', 5), span('y', 'x', 6)]);
    expect(roots.map((r) => r.span_id)).toEqual(['o', 'a', 'x', 'y']);
    expect(roots[1]!.children.map((r) => r.span_id)).toEqual(['b', 'c']);
  });
});
