/**
 * The demo HTTP service: a small "shop with an AI assistant" whose telemetry
 * comes out of the OpenTelemetry SDK (demo/telemetry.ts), never hand-built.
 *
 * Routes (JSON in/out):
 * - `GET  /healthz`                       → `{ ok: true }`
 * - `GET  /orders/:id`                    → one row of `vigil_demo.orders` via `pg` (404 if absent)
 * - `POST /chat` `{ prompt?: string }`    → outbound "LLM call" (fetch → undici) to the fake
 *   model endpoint below, wrapped in a CLIENT span `chat {model}` with GenAI semconv attributes
 * - `GET  /error`                         → always 500 (span status ERROR + exception event)
 * - `POST /fake-llm/v1/chat/completions`  → OpenAI-style completion with `usage` token counts
 *
 * Header `x-user-id` (optional) becomes `user.id` on the chat span and log records.
 * Logs go through the OTel Logs API inside active spans, so every record
 * carries the trace id and span id of the request that produced it.
 *
 * Import this module only after startTelemetry() resolved (ESM instrumentation).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type pg from 'pg';
import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { logs, SeverityNumber, type AnyValueMap } from '@opentelemetry/api-logs';
import { getRPCMetadata, RPCType } from '@opentelemetry/core';
import { FULL_EXTRA_LATENCY_MS, type DemoFlags } from './flags.js';

/** Model requested by the chat route. */
export const DEMO_MODEL = 'gpt-4o-mini';
/** Model the fake endpoint answers with (dated snapshot, as OpenAI does). */
export const DEMO_RESPONSE_MODEL = 'gpt-4o-mini-2024-07-18';

/** Options of {@link startDemoService}. */
export interface DemoServiceOptions {
  /** Pool on a real Postgres database; the demo creates/fills schema `vigil_demo` in it. */
  pool: pg.Pool;
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Bind address (default `127.0.0.1`). */
  host?: string;
  /** The demo flag (demo/flags.ts): /chat asks it which model to call; unset = always DEMO_MODEL. */
  flags?: Pick<DemoFlags, 'chatModel'>;
}

/** A running demo service. */
export interface DemoService {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stop accepting requests and wait for in-flight ones. Does not end the pool. */
  close(): Promise<void>;
}

const tracer = trace.getTracer('vigil-demo', '0.1.0');
const otelLog = logs.getLogger('vigil-demo', '0.1.0');

/**
 * Create schema `vigil_demo` and table `vigil_demo.orders` (id int,
 * customer text, total_usd numeric(10,2) USD, status text, created_at
 * timestamptz) if missing, and seed ids 1..20. Its own schema keeps the demo
 * out of the way when the database is Vigil's control-plane database.
 * Idempotent. Errors from pg are rethrown.
 */
export async function ensureDemoSchema(pool: pg.Pool): Promise<void> {
  await pool.query('CREATE SCHEMA IF NOT EXISTS vigil_demo');
  await pool.query(`CREATE TABLE IF NOT EXISTS vigil_demo.orders (
    id integer PRIMARY KEY,
    customer text NOT NULL,
    total_usd numeric(10,2) NOT NULL,
    status text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
  )`);
  await pool.query(`INSERT INTO vigil_demo.orders (id, customer, total_usd, status)
    SELECT g, 'customer-' || (g % 7), round((g * 13.37)::numeric, 2),
           (ARRAY['new','paid','shipped'])[1 + g % 3]
    FROM generate_series(1, 20) AS g
    ON CONFLICT (id) DO NOTHING`);
}

/**
 * Start the demo HTTP service (schema is ensured first).
 * @throws whatever pg throws when the database is unreachable, or a listen error.
 */
export async function startDemoService(opts: DemoServiceOptions): Promise<DemoService> {
  await ensureDemoSchema(opts.pool);
  let selfUrl = '';
  const server = http.createServer((req, res) => {
    handle(req, res, opts.pool, selfUrl, opts.flags).catch((err: unknown) => {
      // Route handlers answer themselves; this only catches bugs in handle().
      if (!res.headersSent) sendJson(res, 500, { error: String(err) });
    });
  });
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  selfUrl = `http://${addr.address}:${addr.port}`;
  return {
    url: selfUrl,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  pool: pg.Pool,
  selfUrl: string,
  flags?: DemoServiceOptions['flags'],
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://demo');
  const path = url.pathname;
  const userId = headerValue(req, 'x-user-id');
  const span = trace.getActiveSpan(); // SERVER span from the http instrumentation
  if (userId) span?.setAttribute('user.id', userId);

  if (req.method === 'GET' && path === '/healthz') return sendJson(res, 200, { ok: true });

  if (req.method === 'POST' && path === '/fake-llm/v1/chat/completions') {
    return sendJson(res, 200, fakeCompletion(await readJson(req)));
  }

  const order = /^\/orders\/([^/]+)$/.exec(path);
  if (req.method === 'GET' && order) {
    setRoute('/orders/:id');
    const id = Number(order[1]);
    if (!Number.isInteger(id) || id < 1) {
      emit(SeverityNumber.WARN, 'invalid order id', { 'order.id': order[1] ?? '' });
      return sendJson(res, 400, { error: 'order id must be a positive integer' });
    }
    const result = await pool.query(
      'SELECT id, customer, total_usd::float8 AS total_usd, status FROM vigil_demo.orders WHERE id = $1',
      [id],
    );
    const row = result.rows[0] as Record<string, unknown> | undefined;
    if (!row) {
      emit(SeverityNumber.INFO, 'order not found', { 'order.id': id });
      return sendJson(res, 404, { error: `order ${id} not found` });
    }
    emit(SeverityNumber.INFO, 'order fetched', { 'order.id': id, 'order.status': String(row.status) });
    return sendJson(res, 200, row);
  }

  if (req.method === 'POST' && path === '/chat') {
    setRoute('/chat');
    const body = (await readJson(req)) as { prompt?: unknown };
    const prompt = typeof body.prompt === 'string' ? body.prompt : 'Where is my order?';
    // The demo flag picks the model, evaluated inside the LLM span (its evaluation is an event on that priced span,
    // so the experiment compares the variants' latency and cost); "full" is slower and costlier.
    const choose = async () => (flags === undefined ? { model: DEMO_MODEL, variant: undefined } : await flags.chatModel(userId, DEMO_MODEL));
    const { answer, model } = await callModel(selfUrl, prompt, userId, choose);
    emit(SeverityNumber.INFO, 'chat answered', { 'gen_ai.request.model': model }, userId);
    return sendJson(res, 200, { answer });
  }

  if (req.method === 'GET' && path === '/error') {
    setRoute('/error');
    const err = new Error('simulated failure: inventory service unavailable');
    span?.recordException(err);
    span?.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    emit(SeverityNumber.ERROR, err.message, { 'exception.type': 'Error' }, userId);
    return sendJson(res, 500, { error: err.message });
  }

  return sendJson(res, 404, { error: 'no such route' });
}

/** Response shape of the fake OpenAI endpoint (subset of chat.completion). */
interface Completion {
  id: string;
  model: string;
  choices: Array<{ index: number; message: { role: string; content: string }; finish_reason: string }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details?: { cached_tokens?: number };
  };
}

/** Deterministic fake completion: token counts derive from the prompt length. */
function fakeCompletion(body: unknown): Completion {
  const messages = (body as { messages?: Array<{ content?: unknown }> }).messages ?? [];
  const text = messages.map((m) => String(m.content ?? '')).join(' ');
  const promptTokens = 8 + Math.ceil(text.length / 4);
  const completionTokens = 12 + (text.length % 17);
  return {
    id: `chatcmpl-${Date.now().toString(36)}`,
    // Answer as the model asked for (gpt-4o for the demo flag's "full" variant: priced higher).
    model: (body as { model?: unknown }).model === 'gpt-4o' ? 'gpt-4o-2024-08-06' : DEMO_RESPONSE_MODEL,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Your order has shipped and arrives tomorrow.' },
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
      prompt_tokens_details: { cached_tokens: Math.floor(promptTokens / 2) },
    },
  };
}

/**
 * The "LLM call": CLIENT span `chat <model>` (GenAI semconv) around an
 * outbound fetch, whose own undici CLIENT span becomes its child. `choose`
 * (the demo flag) runs inside the span, so the flag's `feature_flag.evaluation`
 * event lands on this priced span; variant `full` waits
 * {@link FULL_EXTRA_LATENCY_MS} more inside it.
 * @returns the assistant message text and the model called.
 */
async function callModel(
  selfUrl: string,
  prompt: string,
  userId: string | undefined,
  choose: () => Promise<{ model: string; variant: string | undefined }>,
): Promise<{ answer: string; model: string }> {
  return tracer.startActiveSpan(
    'chat',
    {
      kind: SpanKind.CLIENT,
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'openai', // pre-1.37 name, for older consumers
        'server.address': new URL(selfUrl).hostname,
        'server.port': Number(new URL(selfUrl).port),
        ...(userId ? { 'user.id': userId } : {}),
      },
    },
    async (span: Span) => {
      try {
        const { model, variant } = await choose();
        span.updateName(`chat ${model}`);
        span.setAttribute('gen_ai.request.model', model);
        if (variant === 'full') await new Promise((resolve) => setTimeout(resolve, FULL_EXTRA_LATENCY_MS));
        const res = await fetch(`${selfUrl}/fake-llm/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: prompt }] }),
          signal: AbortSignal.timeout(5_000),
        });
        if (!res.ok) throw new Error(`model endpoint answered HTTP ${res.status}`);
        const completion = (await res.json()) as Completion;
        const u = completion.usage;
        span.setAttributes({
          'gen_ai.response.model': completion.model,
          'gen_ai.response.id': completion.id,
          'gen_ai.response.finish_reasons': completion.choices.map((c) => c.finish_reason),
          'gen_ai.usage.input_tokens': u.prompt_tokens,
          'gen_ai.usage.output_tokens': u.completion_tokens,
          'gen_ai.usage.cache_read.input_tokens': u.prompt_tokens_details?.cached_tokens ?? 0,
        });
        emit(SeverityNumber.DEBUG, 'model call completed', {
          'gen_ai.usage.input_tokens': u.prompt_tokens,
          'gen_ai.usage.output_tokens': u.completion_tokens,
        }, userId);
        return { answer: completion.choices[0]?.message.content ?? '', model };
      } catch (err) {
        span.recordException(err as Error);
        span.setAttribute('error.type', (err as Error).name);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/** Name the SERVER span `METHOD route` and set `http.route` (official RPC-metadata hook). */
function setRoute(route: string): void {
  const md = getRPCMetadata(context.active());
  if (md?.type === RPCType.HTTP) md.route = route;
}

/** Emit an OTel log record in the active context (carries trace_id/span_id). */
function emit(severity: SeverityNumber, body: string, attributes: AnyValueMap, userId?: string): void {
  otelLog.emit({
    severityNumber: severity,
    severityText: SeverityNumber[severity],
    body,
    attributes: userId ? { ...attributes, 'user.id': userId } : attributes,
  });
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Read a JSON body (max 64 KiB); malformed or empty bodies read as `{}`. */
async function readJson(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 65_536) break;
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as unknown;
  } catch {
    return {};
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
