/**
 * One HTTP attempt of a notification: sign (webhook channels) and POST with
 * undici through the SSRF-guarded agent (alerts/ssrf.ts).
 *
 * Signing follows the Standard Webhooks specification
 * (https://www.standardwebhooks.com/, package `standardwebhooks`): headers
 * `webhook-id` (the message id, the same on every retry), `webhook-timestamp`
 * (Unix seconds of this attempt) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>" keyed with the
 * base64-decoded part of the whsec_ secret>`). Receivers verify with
 * `new Webhook(secret).verify(body, headers)`.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { request, type Dispatcher } from 'undici';
import { refusalIn } from './ssrf.js';

/** Longest time one attempt may take (connect, headers and body), ms. */
export const SEND_TIMEOUT_MS = 10_000;

/** A new webhook secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * Standard Webhooks headers for one attempt.
 * @param secret `whsec_…` secret of the channel.
 * @param messageId webhook-id (stable across retries).
 * @param at attempt time (webhook-timestamp, whole seconds).
 * @param body the exact bytes sent.
 */
export function signatureHeaders(secret: string, messageId: string, at: Date, body: string): Record<string, string> {
  const seconds = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(seconds.getTime() / 1000),
    'webhook-signature': new Webhook(secret).sign(messageId, seconds, body),
  };
}

/** What one attempt got. */
export interface AttemptResult {
  /** HTTP status, or null when no answer arrived (timeout, connection error, refused destination). */
  status: number | null;
  /** Retry-After of the answer, seconds (delta-seconds or HTTP date), if any. */
  retryAfterS?: number;
  /** Why the attempt failed (no answer, or a refused destination). */
  error?: string;
  /** The destination is not allowed (SSRF guard): never retried. */
  refused?: boolean;
}

/** Parse Retry-After (seconds or an HTTP date) relative to `now`. @returns seconds ≥ 0, or undefined. */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/**
 * POST `body` to `url` once.
 * @param opts.agent the SSRF-guarded dispatcher.
 * @param opts.secret sign with this whsec_ secret (webhook channels); unsigned when undefined (Slack).
 * @param opts.timeoutMs whole-attempt timeout, ms (default {@link SEND_TIMEOUT_MS}).
 * @returns the status (any, including 3xx: redirects are not followed) or the error; never throws.
 */
export async function sendOnce(opts: {
  agent: Dispatcher;
  url: string;
  body: string;
  messageId: string;
  secret?: string | null;
  timeoutMs?: number;
  at?: Date;
}): Promise<AttemptResult> {
  const timeoutMs = opts.timeoutMs ?? SEND_TIMEOUT_MS;
  const at = opts.at ?? new Date();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Vigil-Alerting/1',
    ...(opts.secret ? signatureHeaders(opts.secret, opts.messageId, at, opts.body) : { 'webhook-id': opts.messageId }),
  };
  try {
    const res = await request(opts.url, {
      method: 'POST',
      body: opts.body,
      headers,
      dispatcher: opts.agent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
    const retryAfterS = parseRetryAfter(res.headers['retry-after'], new Date());
    return { status: res.statusCode, ...(retryAfterS === undefined ? {} : { retryAfterS }) };
  } catch (err) {
    const refused = refusalIn(err);
    if (refused !== undefined) return { status: null, error: refused.message, refused: true };
    const e = err as Error & { code?: string };
    const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError' || /timeout/i.test(e.code ?? '') || /timeout/i.test(e.message);
    return { status: null, error: timedOut ? `no answer within ${timeoutMs} ms` : `${e.code ?? e.name}: ${e.message}` };
  }
}
