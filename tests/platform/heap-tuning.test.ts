/**
 * platform/heap-tuning.ts: VIGIL_HEAP_GROWING_PERCENT reaches V8 when set at
 * run time (bin/vigil.ts applies it after parsing the configuration, once the
 * isolate is running). A child process keeps ~30 MB of live objects and
 * makes objects that outlive a few scavenges and then die in the old
 * generation (as the event loop's Buffers and their wrappers do), and counts
 * its major collections (perf_hooks 'gc' entries) with V8's adaptive factor
 * and with a factor of 1.1 set through applyHeapGrowing(10): the old
 * generation may then grow only 10 % past its live size, so the same work
 * needs many more major collections. That the default (300) saves CPU is
 * measured end to end in bench/README.md ("Fewer major collections"), not here.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { applyHeapGrowing } from '../../platform/heap-tuning.js';
import { runNode } from '../cli/support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Child: apply the percent, then make old-generation garbage beside live objects; prints the major GCs. */
const CHILD = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { applyHeapGrowing } from ${JSON.stringify(path.join(ROOT, 'platform/heap-tuning.ts'))};
applyHeapGrowing(Number(process.argv.at(-1)));
const live = Array.from({ length: 300_000 }, (_, i) => ({ i, s: 'x' + i }));
globalThis.gc();
let majors = 0;
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++;
});
obs.observe({ entryTypes: ['gc'] });
// Each object lives for the next 400,000 allocations: long enough to be promoted.
const ring = new Array(400_000);
for (let i = 0; i < 8_000_000; i++) {
  ring[i % ring.length] = { i, t: 'y' };
  if (i % 100_000 === 0) await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, 20));
obs.disconnect();
console.log(JSON.stringify({ majors, live: live.length, ring: ring.length }));
`;

async function majorsWith(percent: number): Promise<number> {
  const ran = await runNode(['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD, String(percent)], { timeoutMs: 120_000, cwd: ROOT });
  expect(ran.code, ran.stderr).toBe(0);
  const line = ran.stdout.trim().split('\n').pop()!;
  return (JSON.parse(line) as { majors: number }).majors;
}

describe('V8 heap growing factor (VIGIL_HEAP_GROWING_PERCENT)', () => {
  it('a percent set at run time bounds old-generation growth: 10 % needs ≥ 4× the major collections of the adaptive factor', async () => {
    const adaptive = await majorsWith(0);
    const tight = await majorsWith(10);
    expect(tight).toBeGreaterThanOrEqual(8);
    expect(tight).toBeGreaterThanOrEqual(4 * Math.max(1, adaptive));
  }, 240_000);

  it('rejects a percent that is not an integer from 0 to 1000', () => {
    for (const bad of [-1, 1001, 2.5, Number.NaN]) expect(() => applyHeapGrowing(bad)).toThrow(/integer from 0 to 1000/);
  });
});
