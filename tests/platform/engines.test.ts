/**
 * Issue 12, item 7: "Engines". Every locked dependency (package-lock.json)
 * supports every Node version package.json's `engines.node` allows, so
 * `npm install` cannot warn EBADENGINE on a Node the project claims to
 * support; the Node running the tests is one of them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import semver from 'semver';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[]; optional?: boolean }>;
};

describe('issue 12 item 7: the declared engines are true', () => {
  it('package.json engines.node is a valid range that the running Node satisfies', () => {
    expect(semver.validRange(pkg.engines.node)).not.toBeNull();
    expect(semver.satisfies(process.version, pkg.engines.node)).toBe(true);
  });

  it('the lock file records the same engines as package.json', () => {
    expect(lock.packages['']?.engines).toEqual(pkg.engines);
  });

  it('no locked package requires a Node outside the declared range (would be EBADENGINE)', () => {
    const offenders: string[] = [];
    for (const [name, entry] of Object.entries(lock.packages)) {
      if (name === '') continue;
      const engines = entry.engines;
      const node = engines !== undefined && !Array.isArray(engines) ? engines.node : undefined;
      if (node === undefined) continue;
      if (!semver.subset(pkg.engines.node, node)) offenders.push(`${name}@${entry.version ?? '?'} needs node ${node}`);
    }
    expect(offenders).toEqual([]);
  });

  it('the pins that keep Node 20 supported are in place (cookie@1 via light-my-request, undici@7 via testcontainers)', () => {
    const versions = (name: string) =>
      Object.entries(lock.packages).filter(([k]) => k.endsWith(`node_modules/${name}`)).map(([, v]) => v.version ?? '');
    expect(versions('cookie').length).toBeGreaterThan(0);
    expect(versions('cookie').map((v) => semver.major(v))).not.toContain(2);
    expect(versions('undici').length).toBeGreaterThan(0);
    expect(versions('undici').map((v) => semver.major(v))).not.toContain(8);
  });
});
