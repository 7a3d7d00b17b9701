/**
 * The alert rule format (zod): what the API accepts, what Postgres stores and
 * what the evaluator reads.
 *
 * A rule (API body, JSON):
 * ```
 * { name, description?, severity: info|warning|critical, enabled?,
 *   labels?: {k: v}, annotations?: {summary?, description?, ...} (templates: {{ $value }}, {{ $labels.service }}),
 *   condition: { signal, filters?: {service?, operation?, model?, provider?},
 *                group_by?: [service|operation|model|provider], window: "5m",
 *                operator: > >= < <= == !=, threshold: number, min_count? },
 *   interval?: "60s", for?: "0s", keep_firing_for?: "0s", repeat_interval?: "4h",
 *   no_data_state?: ok|nodata|alerting, exec_err_state?: error|alerting|keep_last,
 *   evaluation_delay?: "60s", channels?: [channel id] }
 * ```
 * Units: error_rate is a fraction (5 % = 0.05); latency_*_ms in ms; cost_usd in
 * USD summed over the window; tokens (input + output) summed over the window;
 * request_rate in spans per minute; error_count and absence in spans;
 * anomaly_score the highest anomaly score (0–1) of the rule's series in the
 * window (anomaly/alert-signal.ts; e.g. >= 0.9 with for: 2m).
 * `absence` fires when the window holds at most `threshold` spans (default 0);
 * its operator is always `<=`.
 */
import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';
import { formatDurationS, parseDurationS } from './durations.js';
import { checkTemplate } from './templates.js';

export const SIGNALS = [
  'error_rate',
  'error_count',
  'request_rate',
  'latency_p50_ms',
  'latency_p95_ms',
  'latency_p99_ms',
  'cost_usd',
  'tokens',
  'absence',
  'anomaly_score',
] as const;
export type Signal = (typeof SIGNALS)[number];

export const DIMENSIONS = ['service', 'operation', 'model', 'provider'] as const;
export type Dimension = (typeof DIMENSIONS)[number];

export const OPERATORS = ['>', '>=', '<', '<=', '==', '!='] as const;
export type Operator = (typeof OPERATORS)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const NO_DATA_STATES = ['ok', 'nodata', 'alerting'] as const;
export const EXEC_ERR_STATES = ['error', 'alerting', 'keep_last'] as const;

/** Signals judged only once the window holds `min_count` spans. */
export const RATIO_SIGNALS: ReadonlySet<Signal> = new Set(['error_rate', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms']);

/** A required duration field in [minS, maxS] seconds (optionally a multiple of `multipleS`) → seconds. */
function duration(minS: number, maxS: number, multipleS = 1) {
  const form = `a duration like "30s", "5m", "1h" or a whole number of seconds, from ${formatDurationS(minS)} to ${formatDurationS(maxS)}${multipleS > 1 ? `, whole minutes` : ''}`;
  const base = z.union([z.string(), z.number()], { error: `expected ${form}` }).transform((v, ctx) => {
    const s = parseDurationS(v);
    if (s === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected ${form}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (s < minS || s > maxS || s % multipleS !== 0) {
      ctx.addIssue({ code: 'custom', message: `out of range: expected ${form}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return s;
  });
  return base;
}

/** An optional duration field (default `def` seconds). */
function optionalDuration(minS: number, maxS: number, def: number) {
  return duration(minS, maxS).optional().transform((v) => v ?? def);
}

const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, { message: 'label names are letters, digits and _, not starting with a digit, at most 64 characters' });
const labelMap = z
  .record(labelName, z.string().max(1024, { message: 'at most 1024 characters' }))
  .refine((m) => Object.keys(m).length <= 32, { message: 'at most 32 labels' });

const filterValue = z.string().min(1, { message: 'must not be empty; omit the filter instead' }).max(512, { message: 'at most 512 characters' });

/** condition of a rule (API form). */
export const ConditionInput = z
  .strictObject({
    signal: z.enum(SIGNALS, { error: `expected one of ${SIGNALS.join(' | ')}` }),
    filters: z
      .strictObject({
        service: filterValue.optional(),
        operation: filterValue.optional(),
        model: filterValue.optional(),
        provider: filterValue.optional(),
      })
      .optional()
      .transform((f) => f ?? {}),
    group_by: z
      .array(z.enum(DIMENSIONS, { error: `expected one of ${DIMENSIONS.join(' | ')}` }))
      .max(4)
      .refine((g) => new Set(g).size === g.length, { message: 'each dimension at most once' })
      .optional()
      .transform((g) => g ?? []),
    window: duration(60, 86_400, 60),
    operator: z.enum(OPERATORS, { error: `expected one of ${OPERATORS.join(' ')}` }).optional(),
    threshold: z.number({ error: 'expected a number' }).finite().optional(),
    min_count: z.number({ error: 'expected a whole number of spans' }).int().min(0).max(1e12).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.signal !== 'absence') {
      if (c.operator === undefined) ctx.addIssue({ code: 'custom', path: ['operator'], message: `required: one of ${OPERATORS.join(' ')}` });
      if (c.threshold === undefined) ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'required: a number to compare the signal with' });
    } else if (c.operator !== undefined && c.operator !== '<=') {
      ctx.addIssue({ code: 'custom', path: ['operator'], message: 'absence always compares with <= (at most `threshold` spans in the window); omit operator' });
    }
    if (c.signal === 'anomaly_score' && c.threshold !== undefined && (c.threshold < 0 || c.threshold > 1)) {
      ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'anomaly_score is a score from 0 to 1 (0.9 = page-worthy)' });
    }
    if (c.signal === 'error_rate' && c.threshold !== undefined && (c.threshold < 0 || c.threshold > 1)) {
      ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'error_rate is a fraction from 0 to 1: 5 % is 0.05' });
    }
    if (c.signal === 'absence' && c.threshold !== undefined && (c.threshold < 0 || !Number.isInteger(c.threshold))) {
      ctx.addIssue({ code: 'custom', path: ['threshold'], message: 'absence counts spans: a whole number ≥ 0 (default 0)' });
    }
  });

/** The stored condition (window in seconds, defaults applied). */
export interface Condition {
  signal: Signal;
  filters: Partial<Record<Dimension, string>>;
  group_by: Dimension[];
  window_s: number;
  operator: Operator;
  threshold: number;
  min_count: number;
}

const annotations = z
  .record(labelName, z.string().max(4096, { message: 'at most 4096 characters' }))
  .superRefine((m, ctx) => {
    for (const [k, v] of Object.entries(m)) {
      const problem = checkTemplate(v);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: problem });
    }
  });

/** A rule as the API accepts it (POST /api/v1/alerts/rules, PUT …/:id, preview). */
export const RuleInput = z.strictObject({
  name: z.string().trim().min(1, { message: 'must not be empty' }).max(200, { message: 'at most 200 characters' }),
  description: z.string().max(4096).optional().transform((v) => v ?? ''),
  severity: z.enum(SEVERITIES, { error: `expected one of ${SEVERITIES.join(' | ')}` }).optional().transform((v) => v ?? 'warning'),
  enabled: z.boolean({ error: 'expected true or false' }).optional().transform((v) => v ?? true),
  labels: labelMap.optional().transform((v) => v ?? {}),
  annotations: annotations.optional().transform((v) => v ?? {}),
  condition: ConditionInput,
  interval: optionalDuration(10, 86_400, 60),
  for: optionalDuration(0, 86_400, 0),
  keep_firing_for: optionalDuration(0, 86_400, 0),
  repeat_interval: optionalDuration(60, 7 * 86_400, 4 * 3600),
  no_data_state: z.enum(NO_DATA_STATES, { error: `expected one of ${NO_DATA_STATES.join(' | ')}` }).optional().transform((v) => v ?? 'nodata'),
  exec_err_state: z.enum(EXEC_ERR_STATES, { error: `expected one of ${EXEC_ERR_STATES.join(' | ')}` }).optional().transform((v) => v ?? 'error'),
  evaluation_delay: optionalDuration(0, 3600, 60),
  channels: z
    .array(z.uuid({ error: 'expected a channel id (uuid) from GET /api/v1/alerts/channels' }))
    .max(20)
    .optional()
    .transform((v) => [...new Set(v ?? [])]),
});
export type RuleInput = z.input<typeof RuleInput>;

/** A validated rule, in stored units (seconds). */
export interface RuleSpec {
  name: string;
  description: string;
  severity: Severity;
  enabled: boolean;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  condition: Condition;
  interval_s: number;
  for_s: number;
  keep_firing_for_s: number;
  repeat_interval_s: number;
  no_data_state: (typeof NO_DATA_STATES)[number];
  exec_err_state: (typeof EXEC_ERR_STATES)[number];
  evaluation_delay_s: number;
  channels: string[];
}

/** A stored rule: its spec plus identity. */
export interface Rule extends RuleSpec {
  id: string;
  project_id: string;
  builtin: string | null;
}

/**
 * Validate an API body into a {@link RuleSpec}.
 * @throws ValidationError naming the first bad field as a dotted path (e.g.
 *   `condition.threshold`) with the accepted form; unknown fields are named too.
 */
export function parseRule(body: unknown): RuleSpec {
  const r = parseBody(RuleInput, body);
  const c = r.condition;
  return {
    name: r.name,
    description: r.description,
    severity: r.severity,
    enabled: r.enabled,
    labels: r.labels,
    annotations: r.annotations,
    condition: {
      signal: c.signal,
      filters: c.filters,
      group_by: c.group_by,
      window_s: c.window,
      operator: c.signal === 'absence' ? '<=' : c.operator!,
      threshold: c.threshold ?? 0,
      min_count: c.min_count ?? 0,
    },
    interval_s: r.interval,
    for_s: r.for,
    keep_firing_for_s: r.keep_firing_for,
    repeat_interval_s: r.repeat_interval,
    no_data_state: r.no_data_state,
    exec_err_state: r.exec_err_state,
    evaluation_delay_s: r.evaluation_delay,
    channels: r.channels,
  };
}

/** A rule in the API's answer form (durations as strings, like the input). */
export function ruleToApi(rule: RuleSpec): Record<string, unknown> {
  const c = rule.condition;
  return {
    name: rule.name,
    description: rule.description,
    severity: rule.severity,
    enabled: rule.enabled,
    labels: rule.labels,
    annotations: rule.annotations,
    condition: {
      signal: c.signal,
      filters: c.filters,
      group_by: c.group_by,
      window: formatDurationS(c.window_s),
      operator: c.operator,
      threshold: c.threshold,
      min_count: c.min_count,
    },
    interval: formatDurationS(rule.interval_s),
    for: formatDurationS(rule.for_s),
    keep_firing_for: formatDurationS(rule.keep_firing_for_s),
    repeat_interval: formatDurationS(rule.repeat_interval_s),
    no_data_state: rule.no_data_state,
    exec_err_state: rule.exec_err_state,
    evaluation_delay: formatDurationS(rule.evaluation_delay_s),
    channels: rule.channels,
  };
}

/**
 * Parse a JSON body with a zod schema.
 * @throws ValidationError (400 VIGIL_ERR_VALIDATION) naming the first bad field
 *   (dotted path, `body` for the whole) and why; unknown fields are listed with
 *   the accepted ones.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new ValidationError('body', 'expected a JSON object (Content-Type: application/json)');
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = at === '' ? '' : `${at}.`;
    return fail(issue.keys.map((k) => `${where}${k}`).join(', '), 'unknown field; check the spelling (see /openapi.json for the accepted fields)');
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = `required: ${message.replace(/;? ?received undefined/, '').replace(/^Invalid input: /, '')}`;
  return fail(at === '' ? 'body' : at, message);
}

function fail(field: string, message: string): never {
  throw new ValidationError(field, message);
}
