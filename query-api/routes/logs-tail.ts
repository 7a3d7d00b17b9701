/**
 * Live tail of log records (authenticated, tenant-confined), for the Logs
 * dashboard:
 *
 *   GET /api/v1/logs/tail?severity=&service=&trace_id=&q=  → text/event-stream
 *
 * Events: `event: ready` once (the stream is live; records stored from now
 * on are sent), then `event: logs` with `data:` a JSON array of LogRecord (the
 * shape of GET /api/v1/logs), oldest first, for every poll that found new
 * records; `: ping` comments every 15 s.
 *
 * How: every `pollMs` (1 s) the tail asks GET /api/v1/logs (through
 * `app.inject`, with the caller's own Authorization header, so the answer is
 * exactly what a search would return and a revoked key ends the stream) for
 * the records of the last `lookbackMs` (2 min) and sends those it has not
 * sent yet. So a record appears when it is stored, provided its time is at
 * most 2 minutes old by then; older late records are found by search, not by
 * the tail. At most 1,000 records are sent per poll (the newest); a burst
 * beyond that sends `event: gap` with the number of polls that were full.
 *
 * Filters are validated by the first search: a bad one answers 400 with the
 * logs route's error body before the stream starts. Streams end when the app
 * closes. At most `maxStreams` (100) open tails per process: beyond, 429.
 */
import type { ServerResponse } from 'node:http';
import type { FastifyPluginAsync } from 'fastify';
import { ValidationError } from '../../platform/errors.js';

export interface LogTailRoutesOptions {
  /** Poll period, ms (default 1000). */
  pollMs?: number;
  /** How far back each poll looks, ms (default 120000). */
  lookbackMs?: number;
  /** SSE heartbeat period, ms (default 15000). */
  heartbeatMs?: number;
  /** Most open tails in this process (default 100). */
  maxStreams?: number;
}

interface TailRecord {
  time_unix_nano: string;
  service: string;
  trace_id: string;
  span_id: string;
  body: unknown;
  severity_number: number;
  attributes: unknown;
}

const FILTERS = ['severity', 'service', 'trace_id', 'q'] as const;
const PAGE = 1000;

/** Identity of a record (logs have no id): time, origin, body and attributes. */
const keyOf = (r: TailRecord): string =>
  JSON.stringify([r.time_unix_nano, r.service, r.trace_id, r.span_id, r.severity_number, r.body, r.attributes]);

const tailDoc = {
  summary: 'Live tail of log records (text/event-stream)',
  description:
    'Server-sent events: `ready` once, then `logs` with a JSON array of new LogRecords (as GET /api/v1/logs returns them, oldest first) about every second. ' +
    'Filters as GET /api/v1/logs: severity, service, trace_id, q. Records are tailed when stored if their time is at most 2 minutes old. ' +
    'Errors: 400 VIGIL_ERR_VALIDATION, 401 VIGIL_ERR_UNAUTHORIZED, 429 VIGIL_ERR_OVERLOADED (too many open tails).',
  tags: ['logs'],
  security: [{ bearer: [] }],
  querystring: {
    type: 'object',
    properties: Object.fromEntries(FILTERS.map((f) => [f, { type: 'string' }])),
  },
};

/** Fastify plugin with the tail route; expects an auth hook in an enclosing scope (the same one as /api/v1/logs). */
export const logTailRoutes: FastifyPluginAsync<LogTailRoutesOptions> = async (app, opts) => {
  const pollMs = opts.pollMs ?? 1000;
  const lookbackMs = opts.lookbackMs ?? 120_000;
  const maxStreams = opts.maxStreams ?? 100;
  const open = new Set<ServerResponse>();
  app.addHook('preClose', async () => {
    for (const res of open) res.end();
  });

  app.get('/api/v1/logs/tail', { schema: tailDoc }, async (request, reply) => {
    const raw = (request.query ?? {}) as Record<string, unknown>;
    const filters: Record<string, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!(FILTERS as readonly string[]).includes(k)) {
        throw new ValidationError(k, `unknown parameter; the tail accepts ${FILTERS.join(', ')}`);
      }
      if (typeof v === 'string' && v !== '') filters[k] = v;
    }
    if (open.size >= maxStreams) {
      return reply.code(429).header('retry-after', '5').send({ error: { code: 'VIGIL_ERR_OVERLOADED', message: `too many open log tails (${maxStreams}); close one and retry` } });
    }
    const authorization = request.headers.authorization ?? '';

    /** One search of the last lookbackMs; a non-200 answer is returned as is. */
    const search = async (): Promise<{ status: number; body: string; logs?: TailRecord[] }> => {
      const now = Date.now();
      const query = new URLSearchParams({ ...filters, from: String(now - lookbackMs), to: String(now + 60_000), limit: String(PAGE) });
      const res = await app.inject({ method: 'GET', url: `/api/v1/logs?${query}`, headers: { authorization } });
      if (res.statusCode !== 200) return { status: res.statusCode, body: res.body };
      return { status: 200, body: '', logs: (res.json() as { logs: TailRecord[] }).logs };
    };

    const first = await search();
    if (first.logs === undefined) return reply.code(first.status).type('application/json; charset=utf-8').send(first.body);

    // Records already there when the tail starts are not sent; only newer ones.
    let seen = new Set(first.logs.map(keyOf));
    reply.hijack();
    const res = reply.raw;
    open.add(res);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 3000\n: connected\n\nevent: ready\ndata: {}\n\n');

    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const ping = setInterval(() => res.write(': ping\n\n'), opts.heartbeatMs ?? 15_000);
    ping.unref();
    const stop = (): void => {
      stopped = true;
      open.delete(res);
      clearInterval(ping);
      clearTimeout(timer);
    };
    request.raw.once('close', stop);
    res.once('close', stop);

    const poll = async (): Promise<void> => {
      if (stopped) return;
      try {
        const r = await search();
        if (stopped) return;
        if (r.logs === undefined) {
          // The key was revoked, or the store failed: tell the client and end (it reconnects with backoff).
          res.write(`event: error\ndata: ${JSON.stringify({ status: r.status, body: r.body.slice(0, 2000) })}\n\n`);
          res.end();
          return;
        }
        const fresh = r.logs.filter((l) => !seen.has(keyOf(l)));
        // Keep only what the next window can still return.
        seen = new Set(r.logs.map(keyOf));
        if (r.logs.length >= PAGE) res.write('event: gap\ndata: {"full_polls": 1}\n\n');
        if (fresh.length > 0) res.write(`event: logs\ndata: ${JSON.stringify(fresh.reverse())}\n\n`);
      } catch (err) {
        request.log.warn({ err }, 'log tail poll failed');
      }
      if (!stopped) timer = setTimeout(() => void poll(), pollMs);
    };
    timer = setTimeout(() => void poll(), pollMs);
  });
};
