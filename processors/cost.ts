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
 * option per (model, provider) is cached in a bounded Map.
 */
import { calcPrice, findProvider, type PriceOptions } from '@pydantic/genai-prices';

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
/** (model, provider) → options that priced it, or null (unknown). */
const resolved = new Map<string, { providerId?: string } | null>();

function usageOf(i: PriceInput): Record<string, number> {
  return { input_tokens: i.inputTokens, output_tokens: i.outputTokens, cache_read_tokens: i.cachedTokens };
}

function tryPrice(i: PriceInput, opts: PriceOptions): number | null {
  try {
    const r = calcPrice(usageOf(i), i.model, opts);
    return r && Number.isFinite(r.total_price) ? r.total_price : null;
  } catch {
    // The library throws on inconsistent usage (e.g. cache > input); treat as unpriceable.
    return null;
  }
}

function resolve(i: PriceInput): { providerId?: string } | null {
  const key = `${i.provider}\u0000${i.model}`;
  if (resolved.has(key)) return resolved.get(key) ?? null;
  let found: { providerId?: string } | null = null;
  const p = i.provider.trim().toLowerCase();
  const alias = PROVIDER_ALIASES[p] ?? p;
  const providerId = alias ? findProvider({ providerId: alias })?.id : undefined;
  if (providerId !== undefined && tryPrice(i, { providerId }) !== null) found = { providerId };
  else if (tryPrice(i, {}) !== null) found = {};
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
