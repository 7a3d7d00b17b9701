/**
 * Silences (Alertmanager's model): label matchers plus a time range; an alert
 * whose labels satisfy every matcher of an active silence gets no
 * notification. Evaluation and state changes go on; the history records
 * `notification: 'silenced'`.
 *
 * Matcher forms: `=` (equal), `!=`, `=~` (regex, fully anchored as in
 * Alertmanager), `!~`. A label that is absent matches as the empty string.
 */
import type pg from 'pg';
import { z } from 'zod';

export const MATCHER_OPS = ['=', '!=', '=~', '!~'] as const;

/** One matcher as stored and accepted by the API. */
export const Matcher = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { message: 'expected a label name (letters, digits, _)' }),
    value: z.string().max(1024),
    op: z.enum(MATCHER_OPS, { error: `expected one of ${MATCHER_OPS.join(' ')}` }).optional().transform((o) => o ?? '='),
  })
  .superRefine((m, ctx) => {
    if (m.op === '=~' || m.op === '!~') {
      try {
        new RegExp(`^(?:${m.value})$`);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `not a valid regular expression: ${(err as Error).message}` });
      }
    }
  });
export type Matcher = z.output<typeof Matcher>;

/** Body of POST /api/v1/alerts/silences. */
export const SilenceInput = z
  .strictObject({
    matchers: z.array(Matcher).min(1, { message: 'at least one matcher, e.g. {"name":"alertname","value":"High error rate"}' }).max(20),
    starts_at: z.iso.datetime({ offset: true, error: 'expected an ISO-8601 time with a zone' }).optional(),
    ends_at: z.iso.datetime({ offset: true, error: 'expected an ISO-8601 time with a zone, e.g. 2026-01-01T12:00:00Z' }),
    comment: z.string().max(4096).optional(),
    created_by: z.string().max(200).optional(),
  })
  .refine((s) => Date.parse(s.ends_at) > (s.starts_at === undefined ? Date.now() : Date.parse(s.starts_at)), {
    message: 'must be later than starts_at (or now)',
    path: ['ends_at'],
  });

/** True when `labels` satisfy every matcher. */
export function matchesAll(matchers: readonly Matcher[], labels: Record<string, string>): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
        return new RegExp(`^(?:${m.value})$`).test(v);
      case '!~':
        return !new RegExp(`^(?:${m.value})$`).test(v);
    }
  });
}

/** A stored silence. */
export interface Silence {
  id: string;
  matchers: Matcher[];
  starts_at: Date;
  ends_at: Date;
  comment: string;
  created_by: string;
  created_at: Date;
}

/** Silences of the project active at `now` (starts_at ≤ now < ends_at). */
export async function activeSilences(db: pg.Pool | pg.PoolClient, project: string, now: Date): Promise<Silence[]> {
  const res = await db.query<Silence>(
    `SELECT id::text, matchers, starts_at, ends_at, comment, created_by, created_at FROM silences
     WHERE project_id = $1 AND starts_at <= $2 AND ends_at > $2`,
    [project, now],
  );
  return res.rows;
}

/** The id of the first silence that mutes `labels`, or undefined. */
export function silencedBy(silences: readonly Silence[], labels: Record<string, string>): string | undefined {
  return silences.find((s) => matchesAll(s.matchers, labels))?.id;
}
