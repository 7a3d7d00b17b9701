/**
 * Locations inside the Vigil package that must resolve the same from TypeScript
 * source (tsx, vitest) and from the built package (dist/…).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

/**
 * The package root: the nearest ancestor of this module holding a package.json
 * named "vigil".
 * @throws Error when no such directory exists (a broken install).
 */
export function packageRoot(): string {
  if (cachedRoot !== undefined) return cachedRoot;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      const name = (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name;
      if (name === 'vigil') return (cachedRoot = dir);
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the vigil package root above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The project's cache directory for downloaded artefacts (Kafka jars): `<root>/.cache/vigil`. */
export function cacheDir(): string {
  return path.join(packageRoot(), '.cache', 'vigil');
}
