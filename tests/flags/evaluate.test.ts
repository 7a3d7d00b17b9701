/**
 * Flag definitions and evaluation without I/O: validation naming the field,
 * operators (equals, in, starts_with, number and semver comparisons), reasons,
 * overrides, sticky bucketing (10 % → 20 % keeps the first 10 %), and the
 * statistics helpers against known values.
 */
import { describe, expect, it } from 'vitest';
import { bucketOf, pickVariant, BUCKETS } from '../../flags/bucketing.js';
import { evaluateFlag, type EvalSuccess } from '../../flags/evaluate.js';
import { parseFlag, type FlagSpec } from '../../flags/model.js';
import { twoProportionZTest, welchTTest } from '../../flags/stats.js';
import { ValidationError } from '../../platform/errors.js';

const BOOL = { key: 'new-checkout', type: 'boolean', variants: { on: true, off: false }, default_variant: 'off' };

function fieldOf(body: unknown): string {
  try {
    parseFlag(body);
  } catch (err) {
    if (err instanceof ValidationError) return err.field;
    throw err;
  }
  return '(valid)';
}

const rollout = (onPct: number) => ({ rollout: [{ variant: 'on', weight: onPct }, { variant: 'off', weight: 100 - onPct }] });

describe('flag definitions', () => {
  it('accepts a full definition and fills defaults', () => {
    const s = parseFlag({ ...BOOL, rules: [{ conditions: [{ attribute: 'plan', operator: 'in', value: ['pro'] }], serve: { variant: 'on' } }] });
    expect(s).toMatchObject({ enabled: true, description: '', bucket_by: 'targetingKey', metadata: {} });
    expect(s.fallthrough).toBeUndefined();
  });

  it('names the bad field', () => {
    const cases: Array<[unknown, string]> = [
      [{ ...BOOL, key: 'bad key' }, 'key'],
      [{ ...BOOL, type: 'json' }, 'type'],
      [{ ...BOOL, variants: { on: 'yes', off: false } }, 'variants.on'],
      [{ ...BOOL, default_variant: 'maybe' }, 'default_variant'],
      [{ ...BOOL, enabled: 'yes' }, 'enabled'],
      [{ ...BOOL, rules: [{ conditions: [{ attribute: 'v', operator: 'semver_gt', value: '2.x' }], serve: { variant: 'on' } }] }, 'rules.0.conditions.0.value'],
      [{ ...BOOL, rules: [{ conditions: [{ attribute: 'v', operator: 'matches', value: 'x' }], serve: { variant: 'on' } }] }, 'rules.0.conditions.0.operator'],
      [{ ...BOOL, rules: [{ conditions: [{ attribute: 'n', operator: 'gt', value: '3' }], serve: { variant: 'on' } }] }, 'rules.0.conditions.0.value'],
      [{ ...BOOL, rules: [{ conditions: [{ attribute: 'n', operator: 'in', value: [] }], serve: { variant: 'on' } }] }, 'rules.0.conditions.0.value'],
      [{ ...BOOL, rules: [{ serve: { variant: 'nope' } }] }, 'rules.0.serve.variant'],
      [{ ...BOOL, fallthrough: { rollout: [{ variant: 'on', weight: 60 }, { variant: 'off', weight: 60 }] } }, 'fallthrough.rollout'],
      [{ ...BOOL, fallthrough: { rollout: [{ variant: 'on', weight: 10.001 }, { variant: 'off', weight: 89.999 }] } }, 'fallthrough.rollout.0.weight'],
      [{ ...BOOL, fallthrough: { rollout: [{ variant: 'x', weight: 100 }] } }, 'fallthrough.rollout.0.variant'],
      [{ ...BOOL, colour: 'red' }, 'colour'],
      [{ ...BOOL, type: 'object', variants: { on: [1], off: {} } }, 'variants.on'],
      [{ ...BOOL, variants: undefined }, 'variants'],
      [[1], 'body'],
    ];
    for (const [body, field] of cases) expect(fieldOf(body), JSON.stringify(body)).toBe(field);
  });
});

describe('evaluation', () => {
  const spec = (extra: Record<string, unknown>): FlagSpec => parseFlag({ ...BOOL, ...extra });
  const ok = (r: ReturnType<typeof evaluateFlag>): EvalSuccess => {
    if (!r.ok) throw new Error(`expected success, got ${r.errorCode}`);
    return r;
  };

  it('STATIC without targeting, DISABLED when off (ignoring overrides), DEFAULT when rules miss', () => {
    expect(ok(evaluateFlag(spec({}), {}))).toMatchObject({ value: false, variant: 'off', reason: 'STATIC' });
    const users = new Map([['u1', 'on']]);
    expect(ok(evaluateFlag(spec({ enabled: false, fallthrough: { variant: 'on' } }), { targetingKey: 'u1' }, { users, workspaces: new Map() }))).toMatchObject({ variant: 'off', reason: 'DISABLED' });
    const withRule = spec({ rules: [{ conditions: [{ attribute: 'plan', operator: 'equals', value: 'pro' }], serve: { variant: 'on' } }] });
    expect(ok(evaluateFlag(withRule, { plan: 'free' }))).toMatchObject({ variant: 'off', reason: 'DEFAULT' });
    expect(ok(evaluateFlag(withRule, { plan: 'pro' }))).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
  });

  it('operators: in, starts_with, numbers, semver, dotted paths; a missing attribute never matches', () => {
    const rule = (c: Record<string, unknown>) => spec({ rules: [{ conditions: [c], serve: { variant: 'on' } }] });
    const hit = (c: Record<string, unknown>, ctx: Record<string, unknown>) => ok(evaluateFlag(rule(c), ctx)).variant === 'on';
    expect(hit({ attribute: 'country', operator: 'in', value: ['CA', 'FR'] }, { country: 'FR' })).toBe(true);
    expect(hit({ attribute: 'country', operator: 'in', value: ['CA', 'FR'] }, { country: 'DE' })).toBe(false);
    expect(hit({ attribute: 'country', operator: 'not_in', value: ['CA'] }, {})).toBe(false);
    expect(hit({ attribute: 'email', operator: 'ends_with', value: '@acme.com' }, { email: 'a@acme.com' })).toBe(true);
    expect(hit({ attribute: 'targetingKey', operator: 'starts_with', value: 'beta-' }, { targetingKey: 'beta-7' })).toBe(true);
    expect(hit({ attribute: 'targetingKey', operator: 'starts_with', value: 'beta-' }, { targetingKey: 'user-7' })).toBe(false);
    expect(hit({ attribute: 'age', operator: 'gte', value: 18 }, { age: 18 })).toBe(true);
    expect(hit({ attribute: 'age', operator: 'gte', value: 18 }, { age: '17' })).toBe(false);
    expect(hit({ attribute: 'age', operator: 'lt', value: 18 }, { age: 'old' })).toBe(false);
    expect(hit({ attribute: 'app.version', operator: 'semver_gte', value: '2.10.0' }, { app: { version: '2.10.1' } })).toBe(true);
    expect(hit({ attribute: 'app.version', operator: 'semver_gte', value: '2.10.0' }, { app: { version: '2.9.9' } })).toBe(false);
    expect(hit({ attribute: 'v', operator: 'semver_lt', value: '1.0.0' }, { v: 'v0.9.0' })).toBe(true);
    expect(hit({ attribute: 'v', operator: 'semver_eq', value: '1.0.0' }, { v: 'not-a-version' })).toBe(false);
    expect(hit({ attribute: 'n', operator: 'equals', value: 3 }, { n: '3' })).toBe(true);
  });

  it('overrides: user before workspace before rules', () => {
    const s = spec({ rules: [{ conditions: [], serve: { variant: 'off' } }] });
    const o = { users: new Map([['alice', 'on']]), workspaces: new Map([['w1', 'on']]) };
    expect(ok(evaluateFlag(s, { targetingKey: 'alice' }, o))).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(ok(evaluateFlag(s, { targetingKey: 'bob', workspaceId: 'w1' }, o))).toMatchObject({ variant: 'on', reason: 'TARGETING_MATCH' });
    expect(ok(evaluateFlag(s, { targetingKey: 'bob', workspaceId: 'w2' }, o))).toMatchObject({ variant: 'off', reason: 'TARGETING_MATCH' });
  });

  it('a rollout without a targeting key fails with TARGETING_KEY_MISSING', () => {
    const r = evaluateFlag(spec({ fallthrough: rollout(50) }), { plan: 'pro' });
    expect(r).toMatchObject({ ok: false, reason: 'ERROR', errorCode: 'TARGETING_KEY_MISSING' });
  });

  it('sticky buckets: raising 10 % → 20 % keeps every user of the first 10 % on', () => {
    const users = Array.from({ length: 5000 }, (_, i) => `user-${i}`);
    const at = (pct: number) => users.map((u) => ok(evaluateFlag(spec({ fallthrough: rollout(pct) }), { targetingKey: u })));
    const ten = at(10);
    const twenty = at(20);
    expect(ten.every((r) => r.reason === 'SPLIT')).toBe(true);
    const onAt10 = users.filter((_, i) => ten[i]!.variant === 'on');
    const onAt20 = new Set(users.filter((_, i) => twenty[i]!.variant === 'on'));
    expect(onAt10.every((u) => onAt20.has(u))).toBe(true);
    // The hash spreads users evenly (deterministic: SHA-256 of fixed keys).
    expect(onAt10.length).toBeGreaterThan(400);
    expect(onAt10.length).toBeLessThan(600);
    expect(onAt20.size).toBeGreaterThan(900);
    expect(onAt20.size).toBeLessThan(1100);
    // Same user, same bucket, every time; different flags bucket independently.
    expect(bucketOf('a', 'u1')).toBe(bucketOf('a', 'u1'));
    expect(users.filter((u) => bucketOf('a', u) === bucketOf('b', u)).length).toBeLessThan(10);
    expect(pickVariant([{ variant: 'x', weight: 0 }, { variant: 'y', weight: 100 }], 0)).toBe('y');
    expect(pickVariant([{ variant: 'x', weight: 100 }], BUCKETS - 1)).toBe('x');
  });
});

describe('statistics', () => {
  it('two-proportion z-test matches the textbook value and refuses small samples', () => {
    // 20/1000 vs 40/1000: pooled p = 0.03, z = 0.02 / sqrt(0.03·0.97·0.002) = 2.6216…, p ≈ 0.00875
    const c = twoProportionZTest(20, 1000, 40, 1000);
    expect(c.statistic).toBeCloseTo(2.6216, 3);
    expect(c.p_value).toBeCloseTo(0.00875, 4);
    expect(c.significant).toBe(true);
    expect(c.ci_low! < 0.02 && c.ci_high! > 0.02 && c.ci_low! > 0).toBe(true);
    expect(twoProportionZTest(0, 10, 1, 10)).toMatchObject({ sample: 'too_small', significant: false, p_value: null });
  });

  it("Welch's t-test matches a known value", () => {
    // means 10 vs 11, variances 4 and 9, n = 50 each: se = sqrt(0.08 + 0.18) = 0.5099, t = 1.9612, df ≈ 85.0
    const c = welchTTest(10, 4, 50, 11, 9, 50);
    expect(c.statistic).toBeCloseTo(1.9612, 3);
    expect(c.p_value!).toBeGreaterThan(0.05);
    expect(c.p_value!).toBeLessThan(0.06);
    expect(c.significant).toBe(false);
    expect(welchTTest(10, 4, 500, 11, 9, 500).significant).toBe(true);
    expect(welchTTest(10, 4, 5, 11, 9, 5).sample).toBe('too_small');
  });
});
