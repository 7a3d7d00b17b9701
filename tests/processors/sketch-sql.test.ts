import { describe, expect, it } from 'vitest';
import { quantileFromKey, quantileKeysSql, SketchAccumulator, sketchFromBins } from '../../processors/sketch.js';
import { createTestClickHouse } from '../support/clickhouse.js';
import { mulberry32 as rng } from '../support/prng.js';

const QS = [0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

describe('quantileKeysSql (quantiles computed in ClickHouse)', () => {
  it('gives exactly the library quantile for random sketches, zero buckets and edge cases', async () => {
    const ch = await createTestClickHouse();
    const r = rng(99);
    const cases: { bins: Record<string, number>; zero: number }[] = [
      { bins: {}, zero: 0 },
      { bins: {}, zero: 5 },
      { bins: { '10': 1 }, zero: 0 },
      { bins: { '10': 1 }, zero: 1 },
      { bins: { '-50': 3, '7': 2, '400': 1 }, zero: 0 },
      { bins: { '1': 1, '2': 1 }, zero: 1_000_000 },
    ];
    for (let i = 0; i < 60; i++) {
      const acc = new SketchAccumulator();
      const n = 1 + Math.floor(r() * 3000);
      const scale = Math.exp(r() * 8);
      for (let j = 0; j < n; j++) acc.add(r() < 0.02 ? 0 : scale * Math.exp(2 * (r() - 0.5) * (1 + 2 * r())), 1 + Math.floor(r() * 3));
      cases.push({ bins: acc.toBins(), zero: acc.zero });
    }
    // Bins merged with sumMap, as the metrics queries do (it returns keys in ascending order).
    const sql = `SELECT zero + arraySum(mapValues(bins)) AS total, ${quantileKeysSql('bins', 'zero', 'total', QS)} AS keys
      FROM (SELECT i, sumMap(CAST(b AS Map(Int32, UInt64))) AS bins, sum(z) AS zero
            FROM format(JSONEachRow, 'i UInt32, b Map(String, UInt64), z UInt64', {rows:String}) GROUP BY i)
      ORDER BY i`;
    const rs = await ch.client.query({
      query: sql,
      query_params: { rows: cases.map((c, i) => JSON.stringify({ i, b: c.bins, z: c.zero })).join('\n') },
      format: 'JSONEachRow',
    });
    const got = await rs.json<{ total: number | string; keys: (number | null)[] }>();
    expect(got).toHaveLength(cases.length);
    got.forEach((g, i) => {
      const sketch = sketchFromBins(cases[i]!.bins, cases[i]!.zero);
      expect(Number(g.total)).toBe(sketch.count);
      QS.forEach((q, j) => {
        const expected = sketch.count === 0 ? null : sketch.getValueAtQuantile(q);
        expect(quantileFromKey(Number(g.total), g.keys[j] ?? null), `case ${i} q ${q}`).toBe(expected);
      });
    });
  });

  it('refuses quantiles outside [0, 1]', () => {
    expect(() => quantileKeysSql('b', 'z', 't', [1.5])).toThrow(RangeError);
  });
});
