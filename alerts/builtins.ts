/**
 * Built-in rules (issue 7, from seed 002's "pre-configured critical alerts"):
 * listed as templates by GET /api/v1/alerts/rules/templates and created for a
 * project by `vigil alerts init --project NAME` (and for the default project
 * by `vigil start`). Each is an API rule body ({@link RuleInput}).
 */
import type pg from 'pg';
import type { RuleInput } from './rule-schema.js';
import { parseRule } from './rule-schema.js';
import { insertRule } from './rules-store.js';

/** A built-in rule: a stable key and the rule body. */
export interface BuiltinRule {
  key: string;
  rule: RuleInput;
}

export const BUILTIN_RULES: readonly BuiltinRule[] = [
  {
    key: 'high_error_rate',
    rule: {
      name: 'High error rate',
      description: 'More than 5 % of a service’s spans ended with status error over 15 minutes (at least 20 spans).',
      severity: 'critical',
      labels: {},
      annotations: {
        summary: 'Error rate of {{ $labels.service }} is {{ $value }} (threshold {{ $threshold }})',
        description: 'More than 5 % of the spans of {{ $labels.service }} failed over the last 15 minutes.',
      },
      condition: { signal: 'error_rate', group_by: ['service'], window: '15m', operator: '>', threshold: 0.05, min_count: 20 },
      interval: '1m',
      for: '0s',
      no_data_state: 'ok',
    },
  },
  {
    key: 'high_p99_latency',
    rule: {
      name: 'High p99 latency',
      description: 'p99 span duration of a service above 5000 ms over 5 minutes.',
      severity: 'warning',
      annotations: { summary: 'p99 latency of {{ $labels.service }} is {{ $value }} ms (threshold {{ $threshold }} ms)' },
      condition: { signal: 'latency_p99_ms', group_by: ['service'], window: '5m', operator: '>', threshold: 5000, min_count: 1 },
      interval: '1m',
      no_data_state: 'ok',
    },
  },
  {
    key: 'llm_cost_spike',
    rule: {
      name: 'LLM cost spike',
      description: 'LLM spend above $50 over the last hour.',
      severity: 'warning',
      annotations: { summary: 'LLM spend is ${{ $value }} over the last hour (threshold ${{ $threshold }})' },
      condition: { signal: 'cost_usd', window: '1h', operator: '>', threshold: 50 },
      interval: '5m',
      no_data_state: 'ok',
    },
  },
  {
    key: 'no_data',
    rule: {
      name: 'No data',
      description: 'No spans at all for 10 minutes.',
      severity: 'critical',
      annotations: { summary: 'No spans received for 10 minutes' },
      condition: { signal: 'absence', window: '10m', threshold: 0 },
      interval: '1m',
    },
  },
];

/**
 * Create the built-in rules for a project (the project row is created if
 * missing); rules whose name already exists in the project are left alone.
 * @param opts.channels channel ids every created rule notifies (default none).
 * @returns names of the rules created by this call.
 */
export async function createBuiltinRules(
  pool: pg.Pool,
  project: string,
  opts: { channels?: string[]; extra?: BuiltinRule[] } = {},
): Promise<string[]> {
  await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [project]);
  const created: string[] = [];
  for (const b of [...BUILTIN_RULES, ...(opts.extra ?? [])]) {
    const spec = parseRule({ ...b.rule, channels: opts.channels ?? [] });
    const id = await insertRule(pool, project, spec, { builtin: b.key, ifMissing: true });
    if (id !== undefined) created.push(spec.name);
  }
  return created;
}
