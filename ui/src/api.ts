/**
 * The query API client of the dashboards. The project's API key is kept in
 * sessionStorage (this tab and the tabs it opens) and sent only as an
 * `Authorization: Bearer` header: never in a URL, never logged.
 */

const KEY_ITEM = 'vigil.apiKey';

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

export function setKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_ITEM);
  else sessionStorage.setItem(KEY_ITEM, key);
}

/** An API error answer: HTTP status, VIGIL_ERR_* code and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

type Query = Record<string, string | number | boolean | undefined | null>;

/** `path?query` with undefined / null / '' values left out. */
export function withQuery(path: string, query: Query = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s === '' ? path : `${path}?${s}`;
}

let onUnauthorized: () => void = () => undefined;
/** Called when the API answers 401 (the key was revoked or mistyped). */
export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

/**
 * Call the API. @returns the parsed JSON body (undefined for 204).
 * @throws ApiError for non-2xx answers (the body's error code and message).
 */
export async function api<T>(method: string, path: string, opts: { query?: Query; body?: unknown; signal?: AbortSignal; key?: string } = {}): Promise<T> {
  const key = opts.key ?? getKey();
  const headers: Record<string, string> = { accept: 'application/json' };
  if (key) headers.authorization = `Bearer ${key}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(withQuery(path, opts.query), {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    cache: 'no-store',
  });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
    if (res.status === 401 && opts.key === undefined) onUnauthorized();
    throw new ApiError(res.status, err?.code ?? `HTTP_${res.status}`, err?.message ?? (text.slice(0, 300) || res.statusText));
  }
  return body as T;
}

export const get = <T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> => api<T>('GET', path, { query, signal });

/**
 * Read a server-sent event stream with the key in a header (EventSource cannot
 * send one). Calls `onEvent` for each event until `signal` aborts.
 * @returns when the stream ends; @throws ApiError when the answer is not 2xx.
 */
export async function readEventStream(
  path: string,
  query: Query,
  signal: AbortSignal,
  onEvent: (event: string, data: string) => void,
): Promise<void> {
  const res = await fetch(withQuery(path, query), {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${getKey() ?? ''}` },
    signal,
    cache: 'no-store',
  });
  if (!res.ok || res.body === null) {
    const text = await res.text().catch(() => '');
    let msg = text;
    try {
      msg = (JSON.parse(text) as { error: { message: string } }).error.message;
    } catch {
      /* not JSON */
    }
    if (res.status === 401) onUnauthorized();
    throw new ApiError(res.status, `HTTP_${res.status}`, msg || res.statusText);
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let i: number;
    while ((i = buf.indexOf('\n\n')) !== -1) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const c = line.indexOf(':');
        const field = c === -1 ? line : line.slice(0, c);
        const val = c === -1 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
      if (data.length > 0) onEvent(event, data.join('\n'));
    }
  }
}

// ---- API shapes (README / query-api/routes/*.schemas.ts) ----

export interface TraceSummary {
  trace_id: string;
  root_name: string;
  root_service: string;
  start: string;
  start_time_unix_nano: string;
  duration_ms: number;
  span_count: number;
  error_count: number;
  services: string[];
}

export interface SpanNode {
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  service: string;
  start: string;
  start_time_unix_nano: string;
  end: string;
  duration_ms: number;
  status: string;
  status_message: string;
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
  events: Array<{ time_unix_nano?: string | number; name?: string; attributes?: Record<string, unknown> }>;
  links?: Array<{ trace_id?: string; span_id?: string; trace_state?: string; attributes?: Record<string, unknown> }>;
  trace_state?: string;
  model: string;
  provider: string;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  cost_usd: number | null;
  unpriced: boolean | number;
  children: SpanNode[];
}

export interface TraceAnswer {
  trace_id: string;
  span_count: number;
  truncated?: boolean;
  spans: SpanNode[];
}

export interface LogRecord {
  time: string;
  time_unix_nano: string;
  severity_text: string;
  severity_number: number;
  body: unknown;
  service: string;
  trace_id: string;
  span_id: string;
  attributes: Record<string, unknown>;
  resource_attributes: Record<string, unknown>;
}

export interface LatencyPoint {
  t: string;
  group: string | null;
  /** null only in buckets filled with fill=null (not asked for here). */
  count: number;
  error_count: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
}

export interface CostPoint {
  t: string;
  group: string | null;
  /** null when every LLM span of the bucket is unpriced (newer APIs); never counted as $0. */
  cost_usd: number | null;
  input_tokens: number;
  output_tokens: number;
  cached_tokens: number;
  unpriced_spans: number;
  spans: number;
}

export interface SeriesAnswer<P> {
  from: string;
  to: string;
  step: number;
  group_by: string | null;
  points: P[];
}

export interface AlertView {
  id: string;
  rule_id: string;
  rule_name: string;
  severity: string;
  fingerprint: string;
  labels: Record<string, string>;
  state: string;
  value: number | null;
  active_at: string | null;
  firing_at: string | null;
  resolved_at: string | null;
  last_eval_at: string | null;
  state_changed_at: string;
  last_notified_at: string | null;
  acknowledged_at: string | null;
  acknowledged_by: string | null;
  ack_comment: string | null;
}
