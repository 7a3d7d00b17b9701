/**
 * Issue 12, item 2: "A silent half-minute". `npm start` builds only when the
 * sources changed (scripts/build-if-stale.mjs) and says what it is doing when
 * it does. Exercised on a small throw-away TypeScript project with the same
 * layout (tsconfig.json, bin/vigil.ts → dist/bin/vigil.js).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/harness.js';
import { ROOT, runNode } from './support.js';

const SCRIPT = path.join(ROOT, 'scripts', 'build-if-stale.mjs');

function project(): string {
  const dir = tempDir('build');
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, outDir: 'dist', rootDir: '.', types: [] },
      include: ['bin', 'lib'],
      exclude: ['**/*.test.ts'],
    }),
  );
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.mkdirSync(path.join(dir, 'lib'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  fs.writeFileSync(path.join(dir, 'lib', 'greet.ts'), 'export const greet = (n: string): string => `hello ${n}`;\n');
  fs.writeFileSync(path.join(dir, 'lib', 'greet.test.ts'), 'export {};\n');
  fs.writeFileSync(path.join(dir, 'bin', 'vigil.ts'), "import { greet } from '../lib/greet.js';\nconsole.log(greet('vigil'));\n");
  // Sources written "two minutes ago": whatever the file system's time granularity, a later edit is newer than a build.
  const past = new Date(Date.now() - 120_000);
  for (const f of ['tsconfig.json', 'package.json', 'lib/greet.ts', 'lib/greet.test.ts', 'bin/vigil.ts']) fs.utimesSync(path.join(dir, f), past, past);
  return dir;
}

const build = (dir: string) => runNode([SCRIPT, '--root', dir], { timeoutMs: 120_000 });
const mtime = (f: string) => fs.statSync(f).mtimeMs;
/** Mark a file as edited now, after the last build started (sources were created two minutes in the past). */
const touch = (_dir: string, f: string) => fs.utimesSync(f, new Date(), new Date());

describe('issue 12 item 2: npm start does not re-run tsc when the sources are unchanged', () => {
  it('package.json start runs the freshness check, not an unconditional tsc', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // Each step checks freshness itself (TypeScript, then the dashboards' bundle); none is an unconditional build.
    const steps = pkg.scripts['start']!.split('&&').map((x) => x.trim());
    expect(steps[0]).toBe('node scripts/build-if-stale.mjs');
    expect(steps[steps.length - 1]).toBe('node dist/bin/vigil.js start');
    for (const step of steps) expect(step).not.toMatch(/\btsc\b/);
  });

  it('builds when there is no build, says so on stderr, then does nothing while sources are unchanged', async () => {
    const dir = project();
    const first = await build(dir);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toMatch(/^vigil: compiling TypeScript with tsc \(no build yet \(dist\/bin\/vigil\.js is missing\)\)/);
    expect(first.stderr).toMatch(/vigil: compiled in \d+\.\d s\n$/);
    const out = path.join(dir, 'dist', 'bin', 'vigil.js');
    expect(fs.existsSync(out)).toBe(true);
    expect(fs.existsSync(path.join(dir, 'dist', 'lib', 'greet.test.js'))).toBe(false);
    const before = mtime(out);

    const second = await build(dir);
    expect(second).toMatchObject({ code: 0, stdout: '', stderr: '' }); // tsc did not run
    expect(mtime(out)).toBe(before);

    // A test file is not a build input: still nothing to do.
    touch(dir, path.join(dir, 'lib', 'greet.test.ts'));
    expect((await build(dir)).stderr).toBe('');
  });

  it('rebuilds when a source changes, naming it; a tsconfig change counts too', async () => {
    const dir = project();
    expect((await build(dir)).code).toBe(0);
    const src = path.join(dir, 'lib', 'greet.ts');
    fs.writeFileSync(src, 'export const greet = (n: string): string => `hi ${n}`;\n');
    touch(dir, src);
    const r = await build(dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('(sources changed since the last build: lib/greet.ts)');
    expect(fs.readFileSync(path.join(dir, 'dist', 'lib', 'greet.js'), 'utf8')).toContain('hi ');
    expect((await build(dir)).stderr).toBe('');

    touch(dir, path.join(dir, 'tsconfig.json'));
    expect((await build(dir)).stderr).toContain('sources changed since the last build: tsconfig.json');
  });

  it('a type error fails the build (exit 1, tsc output on stderr) and the next run tries again', async () => {
    const dir = project();
    expect((await build(dir)).code).toBe(0);
    const src = path.join(dir, 'lib', 'greet.ts');
    fs.writeFileSync(src, 'export const greet = (n: string): number => n;\n');
    touch(dir, src);
    const broken = await build(dir);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toBe('');
    expect(broken.stderr).toMatch(/lib\/greet\.ts\(1,\d+\): error TS2322/);
    expect(broken.stderr).toContain('the build failed after');
    const again = await build(dir);
    expect(again.code).toBe(1); // still stale: no stamp was written
  });

  it('after a plain full tsc (npm install runs one as prepare), the first npm start does not rebuild', async () => {
    const dir = project();
    const tsc = await runNode([path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(dir, 'tsconfig.json')], { timeoutMs: 120_000 });
    expect(tsc.code).toBe(0);
    expect(await build(dir)).toMatchObject({ code: 0, stderr: '' });
  });
});
