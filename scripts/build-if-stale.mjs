#!/usr/bin/env node
/**
 * Build Vigil only when its TypeScript sources changed (used by `npm start`).
 *
 *   node scripts/build-if-stale.mjs [--root DIR] [--force]
 *
 * The sources are exactly the files tsc compiles (tsconfig.json's include /
 * exclude, read with TypeScript's own parser) plus tsconfig.json itself. The
 * build is stale when `<outDir>/bin/vigil.js` is missing or a source is newer
 * than the last build: `<outDir>/.build-stamp` (its mtime is set to the time
 * the last successful build *started*, so an edit made during a build still
 * counts), or, before this script ever built, `<outDir>/bin/vigil.js` (a full
 * `tsc`, e.g. `npm install`'s prepare, rewrites every output).
 *
 * A stale build runs `tsc -p tsconfig.json --incremental` (build info in
 * `<outDir>/.tsbuildinfo`, so only changed files are re-checked next time) and
 * says so on stderr: what changed, a line every 10 s while tsc runs, and the
 * time it took. Up to date: prints nothing and exits at once. stdout is never
 * written (tsc's diagnostics go to stderr).
 *
 * Exit codes: 0 built or up to date, 1 tsc reported errors (or could not run),
 * 2 usage error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const HEARTBEAT_MS = 10_000;

function usage(message) {
  process.stderr.write(`build-if-stale: ${message}\nusage: node scripts/build-if-stale.mjs [--root DIR] [--force]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { root: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'), force: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--force') out.force = true;
    else if (a === '--root') {
      const v = argv[++i];
      if (v === undefined) usage('--root needs a directory');
      out.root = path.resolve(v);
    } else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  return out;
}

/** The files tsc compiles and its outDir, from tsconfig.json via the TypeScript API. */
function projectFiles(root) {
  const ts = require('typescript');
  const configPath = path.join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  const outDir = parsed.options.outDir ?? root;
  return { files: [configPath, ...parsed.fileNames], outDir };
}

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

/** Why a build is needed, or undefined when the build is up to date. */
function staleness(root, files, outDir, force) {
  if (force) return 'rebuild requested (--force)';
  const entry = path.join(outDir, 'bin', 'vigil.js');
  const entryTime = mtimeMs(entry);
  if (entryTime === undefined) return `no build yet (${path.relative(root, entry)} is missing)`;
  const reference = mtimeMs(path.join(outDir, '.build-stamp')) ?? entryTime;
  const changed = files.filter((f) => (mtimeMs(f) ?? Infinity) > reference);
  if (changed.length === 0) return undefined;
  const names = changed.slice(0, 3).map((f) => path.relative(root, f));
  const more = changed.length > 3 ? ` and ${changed.length - 3} more` : '';
  return `sources changed since the last build: ${names.join(', ')}${more}`;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { files, outDir } = projectFiles(args.root);
  const reason = staleness(args.root, files, outDir, args.force);
  if (reason === undefined) return 0;

  const started = Date.now();
  const entryMissing = mtimeMs(path.join(outDir, 'bin', 'vigil.js')) === undefined;
  const buildInfo = path.join(outDir, '.tsbuildinfo');
  // Build info without the outputs it describes would make tsc skip emitting them.
  if (entryMissing) fs.rmSync(buildInfo, { force: true });
  const full = mtimeMs(buildInfo) === undefined ? '; a full build can take a minute' : '';
  process.stderr.write(`vigil: compiling TypeScript with tsc (${reason})${full}…\n`);
  const heartbeat = setInterval(() => {
    process.stderr.write(`vigil: still compiling (${Math.round((Date.now() - started) / 1000)} s)…\n`);
  }, HEARTBEAT_MS);
  const code = await new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [require.resolve('typescript/bin/tsc'), '-p', path.join(args.root, 'tsconfig.json'), '--incremental', '--tsBuildInfoFile', buildInfo],
      { cwd: args.root, stdio: ['ignore', 2, 2] },
    );
    child.on('error', (err) => {
      process.stderr.write(`vigil: could not run tsc: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  clearInterval(heartbeat);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (code !== 0) {
    process.stderr.write(`vigil: the build failed after ${seconds} s (tsc errors above); fix them and run again\n`);
    return 1;
  }
  const stamp = path.join(outDir, '.build-stamp');
  fs.writeFileSync(stamp, `built by scripts/build-if-stale.mjs; started ${new Date(started).toISOString()}\n`);
  fs.utimesSync(stamp, new Date(started), new Date(started));
  process.stderr.write(`vigil: compiled in ${seconds} s\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`vigil: build check failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
