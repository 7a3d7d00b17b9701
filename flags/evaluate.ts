/**
 * Flag evaluation: a definition (flags/model.ts) + its overrides + an
 * evaluation context → a value, variant and reason, with the reasons and
 * error codes of the OpenFeature specification ("Resolution reason" and
 * "Error code" in spec/types.md; OFREP evaluationSuccess / evaluationFailure).
 *
 * Order:
 * 1. disabled → default variant, reason DISABLED (overrides and rules are ignored: a kill switch);
 * 2. a user override whose subject is `context.targetingKey` → TARGETING_MATCH;
 * 3. a workspace override whose subject is `context.workspaceId` → TARGETING_MATCH;
 * 4. the first rule whose conditions all hold → its variant (TARGETING_MATCH) or
 *    its rollout's variant for the context's bucket (SPLIT);
 * 5. the fallthrough: a rollout → SPLIT; a variant → STATIC when the flag has
 *    no rules and no overrides (nothing dynamic about it), else DEFAULT.
 * A rollout needs the `bucket_by` attribute (default targetingKey) as a
 * non-empty string or a number: without it the evaluation fails with
 * TARGETING_KEY_MISSING (reason ERROR). A definition that no longer parses
 * fails with PARSE_ERROR. TYPE_MISMATCH is decided by the caller, which knows
 * the type it asked for (OFREP has no type in the request: ADR 0003).
 *
 * Conditions: a missing attribute (or one of the wrong type) makes a
 * condition false, whatever the operator (`not_equals` included). Attribute
 * names are looked up as given, then as a dotted path into nested objects.
 */
import semver from 'semver';
import { bucketOf, pickVariant } from './bucketing.js';
import type { Condition, FlagSpec, Serve } from './model.js';

export const REASONS = ['STATIC', 'TARGETING_MATCH', 'SPLIT', 'DISABLED', 'DEFAULT', 'ERROR'] as const;
export type Reason = (typeof REASONS)[number];

export const EVAL_ERROR_CODES = ['FLAG_NOT_FOUND', 'TYPE_MISMATCH', 'TARGETING_KEY_MISSING', 'PARSE_ERROR', 'INVALID_CONTEXT', 'GENERAL'] as const;
export type EvalErrorCode = (typeof EVAL_ERROR_CODES)[number];

/** An evaluation context (OpenFeature EvaluationContext as JSON). */
export type EvalContext = Record<string, unknown>;

/** User- and workspace-level overrides of one flag: subject → variant. */
export interface FlagOverrides {
  users: ReadonlyMap<string, string>;
  workspaces: ReadonlyMap<string, string>;
}

export const NO_OVERRIDES: FlagOverrides = { users: new Map(), workspaces: new Map() };

/** Success: the value of `variant`. */
export interface EvalSuccess {
  ok: true;
  key: string;
  value: unknown;
  variant: string;
  reason: Exclude<Reason, 'ERROR'>;
  metadata: Record<string, string | number | boolean>;
}

/** Failure: the caller serves its own default (reason ERROR). */
export interface EvalFailure {
  ok: false;
  key: string;
  reason: 'ERROR';
  errorCode: EvalErrorCode;
  errorDetails: string;
  metadata?: Record<string, string | number | boolean>;
}

export type EvalResult = EvalSuccess | EvalFailure;

/** Read `name` from the context: the key as given, else a dotted path. */
export function attributeOf(ctx: EvalContext, name: string): unknown {
  if (Object.hasOwn(ctx, name)) return ctx[name];
  if (!name.includes('.')) return undefined;
  let cur: unknown = ctx;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function asNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '') {
    const n = Number(v);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function asVersion(v: unknown): semver.SemVer | undefined {
  if (typeof v !== 'string') return undefined;
  return semver.parse(v.startsWith('v') ? v.slice(1) : v) ?? undefined;
}

/** Whether one condition holds for the context. */
export function conditionHolds(c: Condition, ctx: EvalContext): boolean {
  const actual = attributeOf(ctx, c.attribute);
  if (actual === undefined || actual === null) return false;
  switch (c.operator) {
    case 'equals':
      return actual === c.value || (typeof c.value === 'number' && asNumber(actual) === c.value);
    case 'not_equals':
      return !(actual === c.value || (typeof c.value === 'number' && asNumber(actual) === c.value));
    case 'in':
    case 'not_in': {
      if (typeof actual !== 'string' && typeof actual !== 'number') return false;
      const found = (c.value as Array<string | number>).some((x) => x === actual || (typeof x === 'number' && asNumber(actual) === x));
      return c.operator === 'in' ? found : !found;
    }
    case 'starts_with':
      return typeof actual === 'string' && actual.startsWith(c.value as string);
    case 'ends_with':
      return typeof actual === 'string' && actual.endsWith(c.value as string);
    case 'contains':
      return typeof actual === 'string' && actual.includes(c.value as string);
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const n = asNumber(actual);
      if (n === undefined) return false;
      const v = c.value as number;
      return c.operator === 'gt' ? n > v : c.operator === 'gte' ? n >= v : c.operator === 'lt' ? n < v : n <= v;
    }
    default: {
      const a = asVersion(actual);
      if (a === undefined) return false;
      const cmp = semver.compare(a, c.value as string);
      switch (c.operator) {
        case 'semver_eq': return cmp === 0;
        case 'semver_gt': return cmp > 0;
        case 'semver_gte': return cmp >= 0;
        case 'semver_lt': return cmp < 0;
        default: return cmp <= 0;
      }
    }
  }
}

/** The bucketing key of the context for `spec`, or undefined when absent. */
function bucketKeyOf(spec: FlagSpec, ctx: EvalContext): string | undefined {
  const v = attributeOf(ctx, spec.bucket_by);
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/**
 * Evaluate a flag for a context.
 * @param spec the parsed definition.
 * @param overrides the flag's user/workspace overrides (default none).
 * @param ctx the evaluation context (targetingKey, workspaceId, any attributes).
 * @returns an {@link EvalResult}; never throws for a valid spec.
 */
export function evaluateFlag(spec: FlagSpec, ctx: EvalContext, overrides: FlagOverrides = NO_OVERRIDES): EvalResult {
  const success = (variant: string, reason: EvalSuccess['reason']): EvalSuccess => ({
    ok: true, key: spec.key, value: spec.variants[variant], variant, reason, metadata: spec.metadata,
  });
  if (!spec.enabled) return success(spec.default_variant, 'DISABLED');

  const targetingKey = ctx.targetingKey;
  if (typeof targetingKey === 'string' && targetingKey !== '') {
    const v = overrides.users.get(targetingKey);
    if (v !== undefined && Object.hasOwn(spec.variants, v)) return success(v, 'TARGETING_MATCH');
  }
  const workspace = ctx.workspaceId;
  if ((typeof workspace === 'string' && workspace !== '') || typeof workspace === 'number') {
    const v = overrides.workspaces.get(String(workspace));
    if (v !== undefined && Object.hasOwn(spec.variants, v)) return success(v, 'TARGETING_MATCH');
  }

  const serve = (s: Serve, fixedReason: EvalSuccess['reason']): EvalResult => {
    if ('variant' in s) return success(s.variant, fixedReason);
    const bucketKey = bucketKeyOf(spec, ctx);
    if (bucketKey === undefined) {
      return {
        ok: false, key: spec.key, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING', metadata: spec.metadata,
        errorDetails: `flag ${spec.key} splits traffic by ${spec.bucket_by}; the evaluation context has no ${spec.bucket_by}`,
      };
    }
    return success(pickVariant(s.rollout, bucketOf(spec.key, bucketKey)), 'SPLIT');
  };

  for (const rule of spec.rules) {
    if (rule.conditions.every((c) => conditionHolds(c, ctx))) return serve(rule.serve, 'TARGETING_MATCH');
  }
  const dynamic = spec.rules.length > 0 || overrides.users.size > 0 || overrides.workspaces.size > 0;
  return serve(spec.fallthrough ?? { variant: spec.default_variant }, dynamic ? 'DEFAULT' : 'STATIC');
}
