/**
 * The built-in dashboards (issue 11), served by the query API without a key
 * (the pages ask for the project's key and send it to /api/v1 as a Bearer
 * header; they hold no data themselves):
 * - GET /            → 302 /ui/
 * - GET /ui, /ui/*   → the single-page app (dist/ui/index.html)
 * - GET /ui/assets/* → bundled JS / CSS (content-hashed names, cached for a
 *   year; precompressed .gz served when the client accepts gzip)
 *
 * Every answer carries a Content-Security-Policy without inline script
 * (script-src 'self'), nosniff, no-referrer and frame-ancestors 'none'. The
 * bundle is built by scripts/build-ui.mjs (npm install / npm start); when it
 * is missing the pages answer 503 saying how to build it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export interface UiRoutesOptions {
  /** Folder of the built dashboards; default `<package root>/dist/ui`. */
  dir?: string;
}

/** The Content-Security-Policy of every dashboard answer. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The package root: the nearest folder above this module with a package.json (works from the sources and from dist/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
}

interface Bundle {
  index: Buffer;
  assets: Map<string, Asset>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Read the built bundle into memory (it is small); undefined when it was not built. */
function loadBundle(dir: string): Bundle | undefined {
  let index: Buffer;
  try {
    index = fs.readFileSync(path.join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  const assets = new Map<string, Asset>();
  const assetDir = path.join(dir, 'assets');
  for (const name of fs.existsSync(assetDir) ? fs.readdirSync(assetDir) : []) {
    if (name.endsWith('.gz')) continue;
    const file = path.join(assetDir, name);
    const gzPath = `${file}.gz`;
    assets.set(name, {
      body: fs.readFileSync(file),
      gzip: fs.existsSync(gzPath) ? fs.readFileSync(gzPath) : undefined,
      type: TYPES[path.extname(name)] ?? 'application/octet-stream',
    });
  }
  return { index, assets };
}

function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header('content-security-policy', UI_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin');
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Vigil</title></head><body>
<h1>Vigil's dashboards are not built</h1>
<p>Run <code>npm run build:ui</code> (it also runs in <code>npm install</code> and <code>npm start</code>), then reload this page.</p>
</body></html>`;

/** Fastify plugin serving the dashboards; register it outside the authenticated /api/v1 scope. */
export const uiRoutes: FastifyPluginAsync<UiRoutesOptions> = async (app, opts) => {
  const dir = opts.dir ?? path.join(packageRoot(), 'dist', 'ui');
  let bundle: Bundle | undefined;
  // Loaded on first use and again while missing (a build may finish after start).
  const current = (): Bundle | undefined => (bundle ??= loadBundle(dir));

  const page = async (_request: unknown, reply: FastifyReply) => {
    const b = current();
    secure(reply).header('cache-control', 'no-cache');
    if (b === undefined) return reply.code(503).type('text/html; charset=utf-8').send(NOT_BUILT);
    return reply.type('text/html; charset=utf-8').send(b.index);
  };

  app.get('/', { schema: { hide: true } }, async (_request, reply) => secure(reply).redirect('/ui/', 302));
  app.get('/ui', { schema: { hide: true } }, page);
  app.get('/ui/*', { schema: { hide: true } }, page);
  app.get<{ Params: { file: string } }>('/ui/assets/:file', { schema: { hide: true } }, async (request, reply) => {
    secure(reply);
    const asset = current()?.assets.get(request.params.file);
    if (asset === undefined) {
      return reply.code(404).type('application/json; charset=utf-8').send({ error: { code: 'VIGIL_ERR_NOT_FOUND', message: `no dashboard asset ${request.params.file}` } });
    }
    reply.header('cache-control', 'public, max-age=31536000, immutable').header('vary', 'accept-encoding').type(asset.type);
    const accepts = String(request.headers['accept-encoding'] ?? '');
    if (asset.gzip !== undefined && /\bgzip\b/.test(accepts)) return reply.header('content-encoding', 'gzip').send(asset.gzip);
    return reply.send(asset.body);
  });
};
