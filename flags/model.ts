/**
 * The feature-flag definition format (zod): what the management API accepts,
 * what Postgres stores (migration 0003) and what the evaluator reads.
 *
 * A flag (API body, JSON):
 * ```
 * { key: "new-checkout",                      // ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$
 *   description?: "…",
 *   type: "boolean" | "string" | "number" | "object",
 *   variants: { "on": true, "off": false },   // name → value of `type`; 1 … 100 variants
 *   default_variant: "off",                   // served when disabled (reason DISABLED) and, by default, when no rule matches
 *   enabled?: true,
 *   rules?: [ { name?: "beta testers",
 *               conditions: [ { attribute: "plan", operator: "in", value: ["pro", "team"] } ],   // all must hold
 *               serve: { variant: "on" } | { rollout: [ { variant: "on", weight: 10 }, { variant: "off", weight: 90 } ] } } ],
 *   fallthrough?: { variant } | { rollout },  // when no rule matches; default { variant: default_variant }
 *   bucket_by?: "targetingKey",               // context attribute hashed for rollouts
 *   metadata?: { team: "payments" } }         // string | number | boolean values, returned with evaluations
 * ```
 * Operators: `equals`, `not_equals` (string, number or boolean); `in`,
 * `not_in` (a list of strings or numbers); `starts_with`, `ends_with`,
 * `contains` (string); `gt`, `gte`, `lt`, `lte` (number); `semver_eq`,
 * `semver_gt`, `semver_gte`, `semver_lt`, `semver_lte` (a semantic version,
 * compared with the `semver` package). Rollout weights are percentages with
 * at most two decimals summing to 100 (flags/bucketing.ts).
 */
import semver from 'semver';
import { z } from 'zod';
import { ValidationError } from '../platform/errors.js';

export const FLAG_TYPES = ['boolean', 'string', 'number', 'object'] as const;
export type FlagType = (typeof FLAG_TYPES)[number];

export const OPERATORS = [
  'equals', 'not_equals', 'in', 'not_in', 'starts_with', 'ends_with', 'contains',
  'gt', 'gte', 'lt', 'lte', 'semver_eq', 'semver_gt', 'semver_gte', 'semver_lt', 'semver_lte',
] as const;
export type Operator = (typeof OPERATORS)[number];

export const FLAG_KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const VARIANT_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const flagKey = z.string({ error: 'expected a flag key (string)' }).regex(FLAG_KEY_RE, {
  message: 'a flag key is 1–128 letters, digits, ".", "_" or "-", starting with a letter or digit',
});
const variantName = z.string({ error: 'expected a variant name' }).regex(VARIANT_RE, {
  message: 'a variant name is 1–64 letters, digits, ".", "_" or "-", starting with a letter or digit',
});
const attribute = z.string({ error: 'expected a context attribute name' }).min(1, { message: 'must not be empty' }).max(256, { message: 'at most 256 characters' });
const scalar = z.union([z.string().max(1024), z.number().finite(), z.boolean()], { error: 'expected a string, number or boolean' });

/** One condition of a rule: `context[attribute] <operator> value`. */
export const ConditionInput = z
  .strictObject({
    attribute,
    operator: z.enum(OPERATORS, { error: `expected one of ${OPERATORS.join(' | ')}` }),
    value: z.unknown(),
  })
  .superRefine((c, ctx) => {
    const bad = (message: string) => ctx.addIssue({ code: 'custom', path: ['value'], message });
    const v = c.value;
    switch (c.operator) {
      case 'equals':
      case 'not_equals':
        if (!scalar.safeParse(v).success) bad('expected a string, number or boolean');
        break;
      case 'in':
      case 'not_in':
        if (!Array.isArray(v) || v.length === 0 || v.length > 1000 || !v.every((x) => typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x)))) {
          bad('expected a list of 1 to 1000 strings or numbers');
        }
        break;
      case 'starts_with':
      case 'ends_with':
      case 'contains':
        if (typeof v !== 'string' || v === '' || v.length > 1024) bad('expected a non-empty string of at most 1024 characters');
        break;
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte':
        if (typeof v !== 'number' || !Number.isFinite(v)) bad('expected a number');
        break;
      default:
        if (typeof v !== 'string' || semver.valid(v) === null) bad(`expected a semantic version like "2.1.0", got ${JSON.stringify(v)}`);
    }
  });
export type Condition = { attribute: string; operator: Operator; value: unknown };

/** A weighted split: percentages (two decimals at most) summing to 100. */
const RolloutInput = z
  .array(z.strictObject({ variant: variantName, weight: z.number({ error: 'expected a percentage' }).min(0).max(100) }), { error: 'expected a list of {variant, weight}' })
  .min(1, { message: 'at least one {variant, weight}' })
  .max(100)
  .superRefine((r, ctx) => {
    r.forEach((w, i) => {
      if (Math.abs(Math.round(w.weight * 100) - w.weight * 100) > 1e-6) ctx.addIssue({ code: 'custom', path: [i, 'weight'], message: 'a percentage with at most two decimals (buckets are 0.01 %)' });
    });
    const sum = r.reduce((s, w) => s + Math.round(w.weight * 100), 0);
    if (sum !== 10_000) ctx.addIssue({ code: 'custom', message: `weights must sum to 100, got ${sum / 100}` });
    const names = r.map((w) => w.variant);
    if (new Set(names).size !== names.length) ctx.addIssue({ code: 'custom', message: 'each variant at most once' });
  });

/** What a rule or the fallthrough serves: one variant or a percentage rollout. */
export const ServeInput = z.union([z.strictObject({ variant: variantName }), z.strictObject({ rollout: RolloutInput })], {
  error: 'expected {"variant": name} or {"rollout": [{"variant": name, "weight": percent}, …]}',
});
export type Serve = { variant: string } | { rollout: Array<{ variant: string; weight: number }> };

export const RuleInput = z.strictObject({
  name: z.string().max(200).optional(),
  conditions: z.array(ConditionInput).max(50).optional().transform((c) => (c ?? []) as Condition[]),
  serve: ServeInput,
});
export type Rule = { name?: string; conditions: Condition[]; serve: Serve };

const metadataInput = z
  .record(z.string().min(1).max(128), z.union([z.string().max(1024), z.number().finite(), z.boolean()], { error: 'metadata values are strings, numbers or booleans' }))
  .refine((m) => Object.keys(m).length <= 50, { message: 'at most 50 entries' });

/** A flag as the API accepts it (POST body; PUT/PATCH after merging). */
export const FlagInput = z
  .strictObject({
    key: flagKey,
    description: z.string().max(4096).optional().transform((d) => d ?? ''),
    type: z.enum(FLAG_TYPES, { error: `expected one of ${FLAG_TYPES.join(' | ')}` }),
    variants: z.record(variantName, z.unknown(), { error: 'expected an object of variant name → value' }),
    default_variant: variantName,
    enabled: z.boolean({ error: 'expected true or false' }).optional().transform((e) => e ?? true),
    rules: z.array(RuleInput).max(200).optional().transform((r) => (r ?? []) as Rule[]),
    fallthrough: ServeInput.optional(),
    bucket_by: attribute.optional().transform((b) => b ?? 'targetingKey'),
    metadata: metadataInput.optional().transform((m) => m ?? {}),
  })
  .superRefine((f, ctx) => {
    const names = Object.keys(f.variants);
    if (names.length === 0 || names.length > 100) ctx.addIssue({ code: 'custom', path: ['variants'], message: 'between 1 and 100 variants' });
    for (const [name, value] of Object.entries(f.variants)) {
      const problem = valueProblem(f.type, value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['variants', name], message: problem });
    }
    const known = new Set(names);
    const unknown = (path: Array<string | number>, v: string) =>
      ctx.addIssue({ code: 'custom', path, message: `no variant ${JSON.stringify(v)}; the variants are ${names.join(', ')}` });
    if (!known.has(f.default_variant)) unknown(['default_variant'], f.default_variant);
    const checkServe = (s: Serve | undefined, path: Array<string | number>) => {
      if (s === undefined) return;
      if ('variant' in s) {
        if (!known.has(s.variant)) unknown([...path, 'variant'], s.variant);
      } else {
        s.rollout.forEach((w, i) => (known.has(w.variant) ? undefined : unknown([...path, 'rollout', i, 'variant'], w.variant)));
      }
    };
    f.rules.forEach((r, i) => checkServe(r.serve, ['rules', i, 'serve']));
    checkServe(f.fallthrough, ['fallthrough']);
  });

/** A validated flag definition. */
export interface FlagSpec {
  key: string;
  description: string;
  type: FlagType;
  variants: Record<string, unknown>;
  default_variant: string;
  enabled: boolean;
  rules: Rule[];
  /** Undefined: serve default_variant. */
  fallthrough: Serve | undefined;
  bucket_by: string;
  metadata: Record<string, string | number | boolean>;
}

/** Why `value` is not of `type`, or undefined when it is. Objects are JSON objects (not arrays). */
export function valueProblem(type: FlagType, value: unknown): string | undefined {
  switch (type) {
    case 'boolean':
      return typeof value === 'boolean' ? undefined : `a boolean flag's variants are true or false, got ${JSON.stringify(value)}`;
    case 'string':
      return typeof value === 'string' && value.length <= 65_536 ? undefined : `a string flag's variants are strings, got ${JSON.stringify(value)}`;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? undefined : `a number flag's variants are finite numbers, got ${JSON.stringify(value)}`;
    default:
      return value !== null && typeof value === 'object' && !Array.isArray(value) && JSON.stringify(value).length <= 65_536
        ? undefined
        : 'an object flag\'s variants are JSON objects (at most 64 KiB each)';
  }
}

/**
 * Validate a flag body.
 * @throws ValidationError naming the first bad field as a dotted path (e.g.
 *   `rules.0.conditions.1.value`), or `body` when it is not a JSON object.
 */
export function parseFlag(body: unknown): FlagSpec {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new ValidationError('body', 'expected a JSON object (Content-Type: application/json)');
  const r = FlagInput.safeParse(body);
  if (r.success) return r.data as FlagSpec;
  throw zodToValidation(r.error);
}

/** The first zod issue as a ValidationError naming its field. */
export function zodToValidation(error: z.ZodError): ValidationError {
  const issue = error.issues[0]!;
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = at === '' ? '' : `${at}.`;
    return new ValidationError(issue.keys.map((k) => `${where}${k}`).join(', '), 'unknown field; check the spelling (see /openapi.json for the accepted fields)');
  }
  let message = issue.message;
  if (issue.code === 'invalid_type' && /received undefined/.test(message)) message = `required: ${message.replace(/;? ?received undefined/, '').replace(/^Invalid input: /, '')}`;
  return new ValidationError(at === '' ? 'body' : at, message);
}

/** The API form of a flag (what GET returns without the bookkeeping fields); parseFlag(flagToApi(s)) equals s. */
export function flagToApi(s: FlagSpec): Record<string, unknown> {
  return {
    key: s.key,
    description: s.description,
    type: s.type,
    variants: s.variants,
    default_variant: s.default_variant,
    enabled: s.enabled,
    rules: s.rules,
    ...(s.fallthrough === undefined ? {} : { fallthrough: s.fallthrough }),
    bucket_by: s.bucket_by,
    metadata: s.metadata,
  };
}

/** The stored `targeting` column of a spec. */
export function targetingOf(s: FlagSpec): { rules: Rule[]; fallthrough?: Serve; bucket_by: string } {
  return { rules: s.rules, ...(s.fallthrough === undefined ? {} : { fallthrough: s.fallthrough }), bucket_by: s.bucket_by };
}
