/**
 * Summarise a V8 .cpuprofile (e.g. from `npm run bench:e2e -- --cpu-prof`):
 * self time by function and by file/package, as % of the profiled time.
 *
 *   npx tsx bench/e2e/profile.ts FILE.cpuprofile [--top 25]
 */
import fs from 'node:fs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: npx tsx bench/e2e/profile.ts FILE.cpuprofile [--top N]\n');
  process.exit(2);
}
const topIdx = process.argv.indexOf('--top');
const TOP = topIdx > 0 ? Number(process.argv[topIdx + 1]) : 25;
const prof = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i]!, (self.get(prof.samples[i]!) ?? 0) + (prof.timeDeltas[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

/** Where a frame lives: a package under node_modules, a Vigil folder, node:internal, or a V8 pseudo-frame. */
function place(url: string, fn: string): string {
  if (url === '') return `(${fn || 'native'})`.replace(/^\(\((.*)\)\)$/, '($1)');
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  const d = url.match(/\/dist\/([^/]+)\//);
  return d ? `vigil ${d[1]}/` : url;
}

const fnAgg = new Map<string, number>();
const placeAgg = new Map<string, number>();
for (const [id, t] of self) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const short = url.replace(/^.*\/(node_modules|dist)\//, '$1/');
  const key = url ? `${functionName || '(anonymous)'}  ${short}:${lineNumber + 1}` : `(${functionName})`;
  fnAgg.set(key, (fnAgg.get(key) ?? 0) + t);
  const p = place(url, functionName);
  placeAgg.set(p, (placeAgg.get(p) ?? 0) + t);
}
const pct = (t: number): string => `${((t / total) * 100).toFixed(1)} %`;
process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by package / folder:\n`);
for (const [k, t] of [...placeAgg].sort((a, b) => b[1] - a[1]).slice(0, 15)) process.stdout.write(`  ${pct(t).padStart(7)}  ${k}\n`);
process.stdout.write(`\nself time by function (top ${TOP}):\n`);
for (const [k, t] of [...fnAgg].sort((a, b) => b[1] - a[1]).slice(0, TOP)) process.stdout.write(`  ${pct(t).padStart(7)}  ${k}\n`);
