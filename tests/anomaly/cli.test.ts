/**
 * `vigil anomaly score --in FILE.csv --out FILE.csv` (anomaly/cli.ts through
 * bin/vigil.ts, run as a child process from the TypeScript sources): header,
 * row count, order, scores in [0, 1], nothing on stdout, no look-ahead
 * (changing a future value never changes an earlier score), errors.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scorePoints } from '../../anomaly/cli.js';
import { parseSeriesCsv } from '../../anomaly/csv.js';
import { rng } from '../../bench/anomaly/generate.js';
import { cleanEnv, ROOT, runNode } from '../cli/support.js';
import { tempDir } from '../support/harness.js';

const ROWS = 600;
const SPIKE = 500;

/** A 5-minute series over ~2 days with a daily shape, noise and one spike; `YYYY-MM-DD HH:MM:SS` times. */
function csv(change?: { row: number; value: number }): string {
  const r = rng(42);
  const lines = ['timestamp,value'];
  for (let i = 0; i < ROWS; i++) {
    const t = Date.UTC(2026, 0, 5) + i * 300_000;
    let v = 50 + 20 * Math.sin((2 * Math.PI * i) / 288) + (r() - 0.5) * 2;
    if (i === SPIKE) v += 30;
    if (change !== undefined && i === change.row) v = change.value;
    lines.push(`${new Date(t).toISOString().replace('T', ' ').slice(0, 19)},${v.toFixed(3)}`);
  }
  return lines.join('\n') + '\n';
}

function run(args: string[]) {
  return runNode(['--import', 'tsx', path.join(ROOT, 'bin', 'vigil.ts'), ...args], { env: cleanEnv({}), timeoutMs: 60_000 });
}

describe('vigil anomaly score', () => {
  it('writes timestamp,value,anomaly_score for every row in order and nothing on stdout', async () => {
    const dir = tempDir('anomaly-cli');
    const input = path.join(dir, 'in.csv');
    const output = path.join(dir, 'out.csv');
    fs.writeFileSync(input, csv());
    const ran = await run(['anomaly', 'score', '--in', input, '--out', output]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toBe('');
    const inLines = fs.readFileSync(input, 'utf8').trim().split('\n');
    const outLines = fs.readFileSync(output, 'utf8').trim().split('\n');
    expect(outLines[0]).toBe('timestamp,value,anomaly_score');
    expect(outLines).toHaveLength(inLines.length);
    const scores: number[] = [];
    for (let i = 1; i < outLines.length; i++) {
      const [ts, value, score] = outLines[i]!.split(',');
      expect(`${ts},${value}`).toBe(inLines[i]);
      scores.push(Number(score));
    }
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores[SPIKE]!).toBeGreaterThanOrEqual(0.9);
    expect(scores.filter((s) => s >= 0.9).length).toBeLessThanOrEqual(3);
  });

  it('never looks ahead: changing a future value leaves every earlier score unchanged', async () => {
    const base = scorePoints(parseSeriesCsv(csv()));
    for (const row of [20, 150, 333, 599]) {
      const changed = scorePoints(parseSeriesCsv(csv({ row, value: 1e6 })));
      expect(Array.from(changed.slice(0, row))).toEqual(Array.from(base.slice(0, row)));
    }
    // And through the CLI itself, once.
    const dir = tempDir('anomaly-cli');
    const a = path.join(dir, 'a.csv');
    const b = path.join(dir, 'b.csv');
    fs.writeFileSync(a, csv());
    fs.writeFileSync(b, csv({ row: 400, value: -500 }));
    expect((await run(['anomaly', 'score', '--in', a, '--out', path.join(dir, 'a.out')])).code).toBe(0);
    expect((await run(['anomaly', 'score', '--in', b, '--out', path.join(dir, 'b.out')])).code).toBe(0);
    const ra = fs.readFileSync(path.join(dir, 'a.out'), 'utf8').split('\n');
    const rb = fs.readFileSync(path.join(dir, 'b.out'), 'utf8').split('\n');
    expect(rb.slice(0, 401)).toEqual(ra.slice(0, 401)); // header + rows 0..399
    expect(rb[401]).not.toBe(ra[401]);
  });

  it('accepts ISO-8601 times and empty values (no observation, score 0)', () => {
    const pts = parseSeriesCsv('timestamp,value\n2026-01-05T00:00:00Z,1\n"2026-01-05T00:01:00+00:00",\n2026-01-05T00:02:00.5Z,NaN\n');
    expect(pts.map((p) => p.tsSec)).toEqual([1767571200, 1767571260, 1767571320.5]);
    expect(Number.isNaN(pts[1]!.value)).toBe(true);
    expect(Array.from(scorePoints(pts))).toEqual([0, 0, 0]);
  });

  it('refuses a file without the timestamp,value header (exit 1, one line on stderr)', async () => {
    const dir = tempDir('anomaly-cli');
    const input = path.join(dir, 'bad.csv');
    fs.writeFileSync(input, 'time,v\n2026-01-05 00:00:00,1\n');
    const ran = await run(['anomaly', 'score', '--in', input, '--out', path.join(dir, 'x.csv')]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toMatch(/VIGIL_ERR_VALIDATION: --in: line 1: expected the header timestamp,value/);
    const usage = await run(['anomaly', 'score', '--in', input]);
    expect(usage.code).toBe(2);
  });
});
