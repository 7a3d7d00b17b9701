/**
 * Native JSON ingest: `POST /api/v1/ingest/spans` and `POST /api/v1/ingest/logs`.
 *
 * Body: a JSON array (1–10 000 records; Content-Type application/json,
 * Content-Encoding gzip or identity), each element validated with
 * schemas/native.ts. Valid records are published; invalid ones are reported.
 *
 * 200 `{ accepted, rejected, errors: [{ index, field, message }], warnings: [...] }`
 * when at least one record is valid — `field` is the path, e.g. `[3].trace_id`;
 * `warnings` (same shape) name the fields the schema does not know, which are
 * ignored, with a hint: `[0].started_at` "unknown field (ignored); did you
 * mean start_time?". At most {@link MAX_ERRORS} errors and as many warnings listed.
 * 400 `{ error: { code: 'VIGIL_ERR_VALIDATION', message }, accepted: 0,
 * rejected, errors, warnings }` when every record is invalid (as OTLP answers
 * 400 when none is valid): nothing is published.
 * 400 `{ error: { code: 'VIGIL_ERR_VALIDATION', message } }` when the body is
 * not an array (or empty / too long) or not JSON; 401/413/415/429/503 use the
 * same error shape (429/503 with Retry-After). 200 only after the publisher
 * resolved (Kafka acknowledged).
 *
 * Envelopes: spans grouped per trace id; logs per trace id, or per service
 * when they carry none (schemas/envelope.ts).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { z } from 'zod';
import { addAuthHook } from '../../platform/auth/plugin.js';
import type { KeyVerifier } from '../../platform/auth/keys.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { ENVELOPE_VERSION, type Envelope } from '../../schemas/envelope.js';
import { NativeLog, NativeLogBatch, NativeSpan, NativeSpanBatch, unknownFields } from '../../schemas/native.js';
import type { InflightBudget } from '../body.js';
import { registerIntake, requireLogsAccepted } from '../intake.js';
import type { EnvelopeKind, Publisher } from '../publisher.js';
import { nativeErrorBody, prepareErrorReply, toVigilError } from '../replies.js';
import { nativeRejectedSchema, nativeResponseSchema } from './schemas.js';
import { acceptanceWindow, type TimePolicy, type TimeWindow } from '../../schemas/limits.js';
import { nativeLogProblem, nativeSpanProblem } from './limits.js';
import type { ProjectLimits } from '../limits-per-project.js';

/** Most record errors (and, separately, warnings) listed in one answer (`rejected` still counts all). */
export const MAX_ERRORS = 100;

/** Options of {@link nativeRoutes}. */
export interface NativeRoutesOptions {
  publisher: Publisher;
  keys: KeyVerifier;
  budget: InflightBudget;
  maxBodyBytes: number;
  /** Acceptance window of record times (schemas/limits.ts); default retention 30 days. */
  timePolicy?: TimePolicy;
  /** Whether a project's logs are accepted (flag vigil.ingest.logs). */
  logsAccepted?: (tenant: string) => Promise<boolean>;
  /** Per-project rate limits and retention (ingest/limits-per-project.ts); default none. */
  projectLimits?: ProjectLimits;
}

/** One rejected record's problem. */
export interface RecordError {
  index: number;
  field: string;
  message: string;
}

/** Path of a zod issue below element `index`, e.g. `[3].trace_id`, `[0].attributes.x`. */
function fieldPath(index: number, path: ReadonlyArray<PropertyKey>): string {
  return `[${index}]` + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

function parseBody(body: unknown): unknown {
  const buf = body as Buffer | undefined;
  if (buf === undefined || buf.length === 0) throw new ValidationError('body', 'must be a JSON array of records');
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new VigilError('VIGIL_ERR_DECODE', `body is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
}

function validateBatch<T>(
  kind: EnvelopeKind,
  items: unknown[],
  schema: z.ZodType<T>,
  storable: (record: T) => [string, string] | null,
): { ok: T[]; rejected: number; errors: RecordError[]; warnings: RecordError[] } {
  const ok: T[] = [];
  const errors: RecordError[] = [];
  const warnings: RecordError[] = [];
  let rejected = 0;
  items.forEach((item, index) => {
    for (const u of unknownFields(kind, item)) {
      if (warnings.length >= MAX_ERRORS) break;
      warnings.push({ index, field: fieldPath(index, [u.key]), message: u.message });
    }
    const parsed = schema.safeParse(item);
    if (parsed.success) {
      const problem = storable(parsed.data);
      if (problem === null) {
        ok.push(parsed.data);
        return;
      }
      rejected++;
      if (errors.length < MAX_ERRORS) errors.push({ index, field: fieldPath(index, [problem[0]]), message: problem[1] });
      return;
    }
    rejected++;
    for (const issue of parsed.error.issues) {
      if (errors.length >= MAX_ERRORS) break;
      errors.push({ index, field: fieldPath(index, issue.path), message: issue.message });
    }
  });
  return { ok, rejected, errors, warnings };
}

function groupBy<T>(records: T[], key: (r: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const r of records) {
    const k = key(r);
    const g = groups.get(k);
    if (g === undefined) groups.set(k, [r]);
    else g.push(r);
  }
  return [...groups.values()];
}

/** The native route group (see module doc). Encapsulated. */
export const nativeRoutes: FastifyPluginAsync<NativeRoutesOptions> = async (app, opts) => {
  addAuthHook(app, { verifier: opts.keys, exempt: [] });
  const timePolicy: TimePolicy = opts.timePolicy ?? { retentionDays: 30 };
  registerIntake(app, { budget: opts.budget, maxBodyBytes: opts.maxBodyBytes, mediaTypes: ['application/json'] });
  app.setErrorHandler((err, request, reply) => {
    const ve = toVigilError(err, request);
    return prepareErrorReply(reply, ve).type('application/json').send(nativeErrorBody(ve));
  });

  const route = <T>(
    kind: EnvelopeKind,
    batch: z.ZodType<unknown[]>,
    schema: z.ZodType<T>,
    problem: (record: T, window: TimeWindow) => [string, string] | null,
    toEnvelopes: (records: T[], tenant: string, now: number) => Envelope[],
  ): void => {
    app.post(`/api/v1/ingest/${kind}`, { schema: { response: { 200: nativeResponseSchema, 400: nativeRejectedSchema } } }, async (request, reply) => {
      if (kind === 'logs') await requireLogsAccepted(opts.logsAccepted, request.tenant);
      const items = batch.safeParse(parseBody(request.body));
      if (!items.success) {
        const issue = items.error.issues[0];
        const message = issue?.code === 'invalid_type' ? 'must be a JSON array of records' : (issue?.message ?? 'invalid body');
        throw new ValidationError('body', message);
      }
      const now = Date.now();
      const window = acceptanceWindow(opts.projectLimits?.timePolicy(request.tenant, timePolicy) ?? timePolicy, now);
      const { ok, rejected, errors, warnings } = validateBatch(kind, items.data, schema, (r) => problem(r, window));
      if (ok.length === 0) {
        const first = errors[0];
        const err = new VigilError(
          'VIGIL_ERR_VALIDATION',
          `all ${rejected} ${kind === 'spans' ? 'spans' : 'log records'} were rejected, nothing was accepted` +
            (first === undefined ? '' : `; first problem: ${first.field}: ${first.message}`),
        );
        return prepareErrorReply(reply, err).send({ ...nativeErrorBody(err), accepted: 0, rejected, errors, warnings });
      }
      opts.projectLimits?.take(request.tenant, kind, ok.length); // 429 before anything is published
      await opts.publisher.publish(kind, toEnvelopes(ok, request.tenant, now));
      return { accepted: ok.length, rejected, errors, warnings };
    });
  };

  route('spans', NativeSpanBatch, NativeSpan, nativeSpanProblem, (records, tenant, receivedAtMs) =>
    groupBy(records, (r) => r.trace_id).map((g) => ({ v: ENVELOPE_VERSION, kind: 'spans', format: 'native', tenant, receivedAtMs, records: g })),
  );
  route('logs', NativeLogBatch, NativeLog, nativeLogProblem, (records, tenant, receivedAtMs) =>
    groupBy(records, (r) => r.trace_id ?? `service:${r.service}`).map((g) => ({
      v: ENVELOPE_VERSION,
      kind: 'logs',
      format: 'native',
      tenant,
      receivedAtMs,
      records: g,
    })),
  );
};
