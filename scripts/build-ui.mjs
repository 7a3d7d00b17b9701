#!/usr/bin/env node
/**
 * Build the dashboards (ui/) into dist/ui/ when their sources changed
 * (used by `npm install`'s prepare, `npm start` and the browser tests).
 *
 *   node scripts/build-ui.mjs [--root DIR] [--force]
 *
 * Sources: every file under ui/ plus package-lock.json (the bundled preact and
 * uPlot versions) and this script. The build is stale when
 * dist/ui/manifest.json is missing or a source is newer than
 * dist/ui/.build-stamp (its mtime is the time the last successful build
 * started). A build bundles ui/src/main.tsx and its CSS with esbuild (minified,
 * content-hashed file names under dist/ui/assets/), writes dist/ui/index.html
 * referencing them (no inline script: the query API serves it with a
 * Content-Security-Policy of script-src 'self'), a gzip copy of every asset
 * (served precompressed) and dist/ui/manifest.json:
 * `{ "built_at", "index": "index.html", "assets": { "<name>": { "bytes", "gzip_bytes", "type" } } }`.
 *
 * stdout is never written; a build says so on stderr. Exit codes: 0 built or
 * up to date, 1 the build failed, 2 usage error.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

function usage(message) {
  process.stderr.write(`build-ui: ${message}\nusage: node scripts/build-ui.mjs [--root DIR] [--force]\n`);
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

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}

function walk(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

/** Why a build is needed, or undefined when dist/ui is up to date. */
function staleness(root, outDir, force) {
  if (force) return 'rebuild requested (--force)';
  if (mtimeMs(path.join(outDir, 'manifest.json')) === undefined) return 'no build yet';
  const stamp = mtimeMs(path.join(outDir, '.build-stamp'));
  if (stamp === undefined) return 'no build stamp';
  const sources = [...walk(path.join(root, 'ui')), path.join(root, 'package-lock.json'), fileURLToPath(import.meta.url)];
  const changed = sources.filter((f) => (mtimeMs(f) ?? Infinity) > stamp);
  if (changed.length === 0) return undefined;
  const names = changed.slice(0, 3).map((f) => path.relative(root, f));
  return `sources changed since the last build: ${names.join(', ')}${changed.length > 3 ? ` and ${changed.length - 3} more` : ''}`;
}

const TYPES = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.map': 'application/json; charset=utf-8' };

async function build(root, outDir) {
  const esbuild = await import('esbuild');
  const assetsDir = path.join(outDir, 'assets');
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(assetsDir, { recursive: true });
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { app: 'ui/src/main.tsx' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    outdir: assetsDir,
    entryNames: '[name]-[hash]',
    assetNames: '[name]-[hash]',
    metafile: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  for (const w of result.warnings) process.stderr.write(`build-ui: warning: ${w.text}\n`);
  const outputs = Object.keys(result.metafile.outputs).map((p) => path.resolve(root, p));
  const js = outputs.find((p) => p.endsWith('.js'));
  const css = outputs.find((p) => p.endsWith('.css'));
  if (js === undefined || css === undefined) throw new Error('esbuild produced no app .js or .css');
  const template = fs.readFileSync(path.join(root, 'ui', 'index.html'), 'utf8');
  const html = template
    .replace('{{css}}', `/ui/assets/${path.basename(css)}`)
    .replace('{{js}}', `/ui/assets/${path.basename(js)}`);
  fs.writeFileSync(path.join(outDir, 'index.html'), html);
  const assets = {};
  for (const file of outputs) {
    const body = fs.readFileSync(file);
    const gz = zlib.gzipSync(body, { level: 9 });
    fs.writeFileSync(`${file}.gz`, gz);
    assets[path.basename(file)] = { bytes: body.length, gzip_bytes: gz.length, type: TYPES[path.extname(file)] ?? 'application/octet-stream' };
  }
  const manifest = { built_at: new Date().toISOString(), index: 'index.html', js: path.basename(js), css: path.basename(css), assets };
  fs.writeFileSync(path.join(outDir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const outDir = path.join(args.root, 'dist', 'ui');
  const reason = staleness(args.root, outDir, args.force);
  if (reason === undefined) return 0;
  const started = Date.now();
  process.stderr.write(`vigil: bundling the dashboards with esbuild (${reason})…\n`);
  const manifest = await build(args.root, outDir);
  const stamp = path.join(outDir, '.build-stamp');
  fs.writeFileSync(stamp, `built by scripts/build-ui.mjs; started ${new Date(started).toISOString()}\n`);
  fs.utimesSync(stamp, new Date(started), new Date(started));
  const js = manifest.assets[manifest.js];
  process.stderr.write(`vigil: dashboards bundled in ${((Date.now() - started) / 1000).toFixed(1)} s (app ${(js.gzip_bytes / 1024).toFixed(1)} KB gzip)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const errors = err && Array.isArray(err.errors) ? err.errors.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`).join('\n') : '';
    process.stderr.write(`vigil: the dashboard build failed: ${errors || (err instanceof Error ? err.message : String(err))}\n`);
    process.exit(1);
  },
);
