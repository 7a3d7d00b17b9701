import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';
import { priceCall } from '../../processors/cost.js';

const base = { provider: 'openai', outputTokens: 200, hasTokens: true };

describe('cost', () => {
  it('equals calcPrice total for a known model, cached tokens included in input', () => {
    const usage = { input_tokens: 1000, output_tokens: 200, cache_read_tokens: 400 };
    const want = calcPrice(usage, 'gpt-4o', { providerId: 'openai' })!.total_price;
    const got = priceCall({ ...base, model: 'gpt-4o', inputTokens: 1000, cachedTokens: 400 });
    expect(got).toEqual({ cost_usd: want, unpriced: 0 });
    // cached tokens are cheaper than uncached ones: same total input, lower cost
    expect(got.cost_usd!).toBeLessThan(priceCall({ ...base, model: 'gpt-4o', inputTokens: 1000, cachedTokens: 0 }).cost_usd!);
  });

  it('maps semconv provider names and falls back to model matching', () => {
    const want = calcPrice({ input_tokens: 10, output_tokens: 200, cache_read_tokens: 0 }, 'gpt-4o')!.total_price;
    expect(priceCall({ ...base, provider: 'azure.ai.inference', model: 'gpt-4o', inputTokens: 10, cachedTokens: 0 }).cost_usd).toBeCloseTo(want, 12);
    expect(priceCall({ ...base, provider: 'somebody', model: 'gpt-4o', inputTokens: 10, cachedTokens: 0 }).cost_usd).toBeCloseTo(want, 12);
  });

  it('unknown model or missing tokens → null and unpriced, never 0', () => {
    expect(priceCall({ ...base, model: 'no-such-model-xyz', inputTokens: 10, cachedTokens: 0 })).toEqual({ cost_usd: null, unpriced: 1 });
    expect(priceCall({ ...base, model: 'gpt-4o', inputTokens: 0, outputTokens: 0, cachedTokens: 0, hasTokens: false })).toEqual({ cost_usd: null, unpriced: 1 });
  });

  it('spans without a model are not GenAI spans: null, not unpriced', () => {
    expect(priceCall({ ...base, model: '', inputTokens: 10, cachedTokens: 0 })).toEqual({ cost_usd: null, unpriced: 0 });
  });
});

describe('cost — the cached (model, provider) resolution', () => {
  const usage = (i: number) => ({ input_tokens: 1000 + i, output_tokens: 200 + i, cache_read_tokens: 100 });
  const cases: Array<[provider: string, model: string, libraryOptions: { providerId?: string }]> = [
    ['openai', 'gpt-4o-mini', { providerId: 'openai' }],
    ['anthropic', 'claude-3-5-sonnet-20241022', { providerId: 'anthropic' }],
    ['aws.bedrock', 'anthropic.claude-3-haiku-20240307-v1:0', { providerId: 'aws' }],
    ['gcp.gen_ai', 'gemini-1.5-flash', { providerId: 'google' }],
    ['somebody', 'gpt-4o', {}],
  ];

  it('prices every later call exactly as the library does, over usages and dates (dated prices)', () => {
    for (const [provider, model, lib] of cases) {
      for (let i = 0; i < 3; i++) {
        for (const at of [Date.UTC(2024, 0, 15), Date.UTC(2025, 6, 1, 13), Date.now()]) {
          const u = usage(i);
          const want = calcPrice(u, model, { ...lib, timestamp: new Date(at) });
          const got = priceCall({ provider, model, inputTokens: u.input_tokens, outputTokens: u.output_tokens, cachedTokens: u.cache_read_tokens, hasTokens: true, atMs: at });
          expect(want, `${provider}/${model}`).not.toBeNull();
          expect(got, `${provider}/${model} at ${new Date(at).toISOString()}`).toEqual({ cost_usd: want!.total_price, unpriced: 0 });
        }
      }
    }
  });

  it('a usage the library refuses (cached > input) is unpriced without making the model unknown for later calls', () => {
    const model = 'gpt-4.1-nano';
    expect(priceCall({ provider: 'openai', model, inputTokens: 10, outputTokens: 5, cachedTokens: 50, hasTokens: true })).toEqual({ cost_usd: null, unpriced: 1 });
    const want = calcPrice({ input_tokens: 100, output_tokens: 5, cache_read_tokens: 0 }, model, { providerId: 'openai' })!.total_price;
    expect(priceCall({ provider: 'openai', model, inputTokens: 100, outputTokens: 5, cachedTokens: 0, hasTokens: true })).toEqual({ cost_usd: want, unpriced: 0 });
  });
});
