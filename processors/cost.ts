/**
 * LLM call cost in USD with @pydantic/genai-prices and its bundled price data
 * (no network: `updatePrices` is never called).
 *
 * Usage passed to `calcPrice`: `{ input_tokens, output_tokens, cache_read_tokens }`.
 * The library defines `input_tokens` as ALL input tokens including cache-read
 * (and cache-write) tokens, and prices `cache_read_tokens` at the cache rate
 * and the rest at the input rate (its README, "Cached input tokens"). That is
 * exactly the GenAI semconv meaning of `gen_ai.usage.input_tokens`
 * (processors/genai.ts normalises to it), so counts pass through unchanged.
 *
 * Outcomes:
 * - no model → `{ cost_usd: null, unpriced: 0 }` (not a GenAI span);
 * - model but no token counts, or a model/provider the data does not know →
 *   `{ cost_usd: null, unpriced: 1 }` — never 0 for unknown;
 * - otherwise `{ cost_usd: total_price, unpriced: 0 }`.
 *
 * Provider names (`gen_ai.provider.name` values such as 'openai', 'aws.bedrock',
 * 'gcp.vertex_ai') go to the library's providerId matching; a few semconv names
 * it does not recognise are aliased. When the provider is unknown or does not
 * price the model, the model alone is matched across providers. The resolved
 * option per (model, provider) is cached in a bounded Map: the matched
 * provider narrowed to the one matched model (`PriceOptions.provider`), so
 * later calls do not walk the provider's model list again (the library
 * matches each model's rules, regular expressions included, on every call;
 * 19.5–21 → 16.8–19.6 µs per call, most of the rest is the library's own
 * calculation). Prices still come from the library's calculation with that
 * model's own price data (tiers, dated prices), so the amounts are the same.
 * A usage the library refuses (it throws, e.g. cached > input tokens) is
 * unpriced without being cached, so it does not make the model unknown.
 */
import { calcPrice, findProvider, type PriceCalculation, type PriceOptions } from '@pydantic/genai-prices';

/** Cost of one span. cost_usd in USD. */
export interface CostResult {
  cost_usd: number | null;
  unpriced: 0 | 1;
}

/** Input of {@link priceCall}; token counts per GenAI semconv (input includes cached). */
export interface PriceInput {
  model: string;
  provider: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  hasTokens: boolean;
  /** When the call happened (time-dependent prices), epoch ms. Default: now. */
  atMs?: number;
}

/** Semconv provider names the library's matcher does not resolve by itself. */
const PROVIDER_ALIASES: Record<string, string> = {
  'gcp.gen_ai': 'google',
  x_ai: 'x-ai',
  'azure.ai.inference': 'azure',
  'az.ai.inference': 'azure',
  mistral_ai: 'mistral',
};

/** Most (model, provider) resolutions kept. */
export const COST_CACHE_LIMIT = 10_000;
/** (model, provider) → options that price it (the matched provider with only the matched model), or null (unknown). */
const resolved = new Map<string, PriceOptions | null>();

function usageOf(i: PriceInput): Record<string, number> {
  return { input_tokens: i.inputTokens, output_tokens: i.outputTokens, cache_read_tokens: i.cachedTokens };
}

/** The library's calculation; 'error' when it threw (inconsistent usage, e.g. cache > input: unpriceable, but says nothing about the model). */
function calculate(i: PriceInput, opts: PriceOptions): PriceCalculation | null | 'error' {
  try {
    const r = calcPrice(usageOf(i), i.model, opts);
    return r && Number.isFinite(r.total_price) ? r : null;
  } catch {
    return 'error';
  }
}

function tryPrice(i: PriceInput, opts: PriceOptions): number | null {
  const r = calculate(i, opts);
  return r === null || r === 'error' ? null : r.total_price;
}

/** Options naming the provider of `r` with only its matched model (see module doc). */
function narrowed(r: PriceCalculation): PriceOptions {
  return { provider: { ...r.provider, models: [r.model], fallback_model_providers: undefined } };
}

/** Options that price (model, provider); null when unknown or unpriceable now (only an unknown model is cached). */
function resolve(i: PriceInput): PriceOptions | null {
  const key = `${i.provider}\u0000${i.model}`;
  if (resolved.has(key)) return resolved.get(key) ?? null;
  const p = i.provider.trim().toLowerCase();
  const alias = PROVIDER_ALIASES[p] ?? p;
  const providerId = alias ? findProvider({ providerId: alias })?.id : undefined;
  const viaProvider = providerId !== undefined ? calculate(i, { providerId }) : null;
  const r = viaProvider !== null && viaProvider !== 'error' ? viaProvider : calculate(i, {});
  // Not cached: this usage could not be priced, another one may be.
  if (r === 'error' || (r === null && viaProvider === 'error')) return null;
  const found = r === null ? null : narrowed(r);
  if (resolved.size >= COST_CACHE_LIMIT) {
    const oldest = resolved.keys().next();
    if (!oldest.done) resolved.delete(oldest.value);
  }
  resolved.set(key, found);
  return found;
}

/**
 * Price one GenAI call.
 * @returns cost in USD or null with the unpriced flag (see module doc). Never throws.
 */
export function priceCall(i: PriceInput): CostResult {
  if (!i.model) return { cost_usd: null, unpriced: 0 };
  if (!i.hasTokens) return { cost_usd: null, unpriced: 1 };
  const opts = resolve(i);
  if (opts === null) return { cost_usd: null, unpriced: 1 };
  const cost = tryPrice(i, { ...opts, timestamp: new Date(i.atMs ?? Date.now()) });
  return cost === null ? { cost_usd: null, unpriced: 1 } : { cost_usd: cost, unpriced: 0 };
}
