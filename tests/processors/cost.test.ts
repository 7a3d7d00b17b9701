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
