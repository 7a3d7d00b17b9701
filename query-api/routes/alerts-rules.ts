/**
 * Alert rule routes (authenticated, tenant-confined):
 * - GET    /api/v1/alerts/rules            → { rules: RuleView[] }
 * - GET    /api/v1/alerts/rules/templates  → { templates: [{ key, rule }] } (built-ins, alerts/builtins.ts)
 * - POST   /api/v1/alerts/rules            → 201 RuleView
 * - GET    /api/v1/alerts/rules/:id        → RuleView
 * - PUT    /api/v1/alerts/rules/:id        → RuleView (full replace)
 * - PATCH  /api/v1/alerts/rules/:id        → RuleView (fields given replace the current ones)
 * - DELETE /api/v1/alerts/rules/:id        → 204
 * - POST   /api/v1/alerts/rules/preview    → PreviewResult (alerts/preview.ts)
 *
 * RuleView = the rule in its API form (alerts/rule-schema.ts ruleToApi) plus
 * id, builtin, created_at, updated_at and health { last_eval_at, next_eval_at,
 * consecutive_failures, last_error }.
 */
import type { FastifyPluginAsync } from 'fastify';
import type pg from 'pg';
import { BUILTIN_RULES } from '../../alerts/builtins.js';
import { previewRule } from '../../alerts/preview.js';
import { parseBody, parseRule, ruleToApi, type RuleSpec } from '../../alerts/rule-schema.js';
import { deleteRule, getRuleRow, insertRule, listRuleRows, rowToRule, updateRule, type RuleRow } from '../../alerts/rules-store.js';
import type { ClickHouseHandle } from '../../platform/clickhouse.js';
import { ValidationError, VigilError } from '../../platform/errors.js';
import { tenantOf } from '../auth.js';
import { parseParams } from '../params.js';
import { bodyTime, docs, IdParams, PreviewBody } from './alerts.schemas.js';

export interface AlertRuleRoutesOptions {
  pool: pg.Pool;
  clickhouse: ClickHouseHandle;
}

/** The API form of a stored rule. */
export function ruleView(r: RuleRow): Record<string, unknown> {
  return {
    id: r.id,
    ...ruleToApi(rowToRule(r)),
    builtin: r.builtin,
    created_at: r.created_at.toISOString(),
    updated_at: r.updated_at.toISOString(),
    health: {
      last_eval_at: r.last_eval_at?.toISOString() ?? null,
      next_eval_at: r.next_eval_at.toISOString(),
      consecutive_failures: r.consecutive_failures,
      last_error: r.last_error,
    },
  };
}

export const notFound = (what: string, id: string): VigilError =>
  new VigilError('VIGIL_ERR_NOT_FOUND', `no ${what} ${id} in this project`);

/** Prefix the field of a ValidationError (e.g. `rule.` for a rule inside a preview body). */
function prefixed<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ValidationError) throw new ValidationError(`${prefix}${err.field}`, err.message.slice(err.field.length + 2));
    throw err;
  }
}

/** Fastify plugin with the rule routes; expects an auth hook in an enclosing scope. */
export const alertRuleRoutes: FastifyPluginAsync<AlertRuleRoutesOptions> = async (app, opts) => {
  const { pool } = opts;

  app.get('/api/v1/alerts/rules', { schema: docs.listRules }, async (request) => ({
    rules: (await listRuleRows(pool, tenantOf(request))).map(ruleView),
  }));

  app.get('/api/v1/alerts/rules/templates', { schema: docs.templates }, async () => ({
    templates: BUILTIN_RULES.map((b) => ({ key: b.key, rule: ruleToApi(parseRule(b.rule)) })),
  }));

  app.post('/api/v1/alerts/rules', { schema: docs.createRule }, async (request, reply) => {
    const tenant = tenantOf(request);
    const spec = parseRule(request.body);
    await pool.query('INSERT INTO projects (id, name) VALUES ($1, $1) ON CONFLICT (id) DO NOTHING', [tenant]);
    const id = (await insertRule(pool, tenant, spec))!;
    return reply.status(201).send(ruleView((await getRuleRow(pool, tenant, id))!));
  });

  app.get('/api/v1/alerts/rules/:id', { schema: docs.getRule }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const row = await getRuleRow(pool, tenantOf(request), id);
    if (row === undefined) throw notFound('alert rule', id);
    return ruleView(row);
  });

  const replace = async (tenant: string, id: string, spec: RuleSpec) => {
    if (!(await updateRule(pool, tenant, id, spec))) throw notFound('alert rule', id);
    return ruleView((await getRuleRow(pool, tenant, id))!);
  };

  app.put('/api/v1/alerts/rules/:id', { schema: docs.putRule }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    return replace(tenantOf(request), id, parseRule(request.body));
  });

  app.patch('/api/v1/alerts/rules/:id', { schema: docs.patchRule }, async (request) => {
    const { id } = parseParams(IdParams, request.params);
    const tenant = tenantOf(request);
    const row = await getRuleRow(pool, tenant, id);
    if (row === undefined) throw notFound('alert rule', id);
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'expected a JSON object with the fields to change');
    const current = ruleToApi(rowToRule(row));
    const patch = body as Record<string, unknown>;
    const condition = patch.condition !== null && typeof patch.condition === 'object' && !Array.isArray(patch.condition)
      ? { ...(current.condition as object), ...(patch.condition as object) }
      : (patch.condition ?? current.condition);
    return replace(tenant, id, parseRule({ ...current, ...patch, condition }));
  });

  app.delete('/api/v1/alerts/rules/:id', { schema: docs.deleteRule }, async (request, reply) => {
    const { id } = parseParams(IdParams, request.params);
    if (!(await deleteRule(pool, tenantOf(request), id))) throw notFound('alert rule', id);
    return reply.status(204).send();
  });

  app.post('/api/v1/alerts/rules/preview', { schema: docs.preview }, async (request) => {
    const tenant = tenantOf(request);
    const b = parseBody(PreviewBody, request.body);
    let spec: RuleSpec;
    if (b.rule_id !== undefined) {
      const row = await getRuleRow(pool, tenant, b.rule_id);
      if (row === undefined) throw notFound('alert rule', b.rule_id);
      spec = rowToRule(row);
    } else {
      spec = prefixed('rule.', () => parseRule({ name: 'preview', ...b.rule }));
    }
    const from = bodyTime(b.from);
    if (typeof from === 'string') throw new ValidationError('from', from);
    const to = b.to === undefined ? Date.now() : bodyTime(b.to);
    if (typeof to === 'string') throw new ValidationError('to', to);
    if (from >= to) throw new ValidationError('from', 'must be earlier than to');
    return previewRule(opts.clickhouse, tenant, spec, from, to);
  });
};
