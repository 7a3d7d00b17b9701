/**
 * GenAI facts of a span from OpenTelemetry GenAI semantic conventions
 * (https://opentelemetry.io/docs/specs/semconv/gen-ai/, attribute registry
 * `gen_ai.*`), including older and vendor variants still emitted in the wild.
 *
 * - model: `gen_ai.response.model`, else `gen_ai.request.model`.
 * - provider: `gen_ai.provider.name` (current), else `gen_ai.system` (deprecated).
 * - input tokens: `gen_ai.usage.input_tokens`, else legacy `gen_ai.usage.prompt_tokens`.
 * - output tokens: `gen_ai.usage.output_tokens`, else legacy `gen_ai.usage.completion_tokens`.
 * - cached (cache-read) input tokens: `gen_ai.usage.cache_read.input_tokens`
 *   (current), `gen_ai.usage.cache_read_input_tokens`, `gen_ai.usage.input_tokens.cached`,
 *   `gen_ai.usage.cached_tokens`.
 * - user: `user.id`, else `enduser.id`.
 *
 * Semconv: cache-read tokens SHOULD be included in `gen_ai.usage.input_tokens`.
 * When a producer reports more cached than input tokens it evidently counted
 * input without the cache (Anthropic API style); then input = input + cached,
 * so `inputTokens` always means "all input tokens, cached included".
 */

/** GenAI facts of one span. Token counts are non-negative integers (0 when absent). */
export interface GenAiInfo {
  model: string;
  provider: string;
  userId: string;
  inputTokens: number;
  outputTokens: number;
  cachedTokens: number;
  /** Whether any token count was reported at all. */
  hasTokens: boolean;
}

const CACHED_KEYS = [
  'gen_ai.usage.cache_read.input_tokens',
  'gen_ai.usage.cache_read_input_tokens',
  'gen_ai.usage.input_tokens.cached',
  'gen_ai.usage.cached_tokens',
];

/** The text of one attribute of a span, undefined when it has none. */
export type AttributeLookup = (key: string) => string | undefined;

function first(attrs: AttributeLookup, keys: string[]): string {
  for (const k of keys) {
    const v = attrs(k);
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

/** Parse a token count; undefined when absent or not a non-negative finite number. */
function count(attrs: AttributeLookup, keys: string[]): number | undefined {
  for (const k of keys) {
    const v = attrs(k);
    if (v === undefined || v === '') continue;
    const n = Number(v);
    if (Number.isFinite(n) && n >= 0) return Math.round(n);
  }
  return undefined;
}

/** Native span fields that override the attributes; null/undefined members fall back to them. */
export interface ExplicitGenAi {
  model?: string | null;
  provider?: string | null;
  userId?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  cachedTokens?: number | null;
}

/**
 * Build GenAiInfo from explicit values (native fields) falling back to attributes.
 * @param attrs flattened span attributes (strings).
 * @param explicit native span fields; null/undefined members fall back to attributes.
 */
export function genAiInfo(attrs: Record<string, string>, explicit: ExplicitGenAi = {}): GenAiInfo {
  return genAiInfoFrom((k) => attrs[k], explicit);
}

/**
 * {@link genAiInfo} over attributes given as a lookup (the processors'
 * columnar path keeps a span's attributes in arrays, not an object).
 * @param attrs the text of a span attribute by key, undefined when absent.
 */
export function genAiInfoFrom(attrs: AttributeLookup, explicit: ExplicitGenAi = {}): GenAiInfo {
  const input = explicit.inputTokens ?? count(attrs, ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens']);
  const output = explicit.outputTokens ?? count(attrs, ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens']);
  const cached = explicit.cachedTokens ?? count(attrs, CACHED_KEYS);
  let inputTokens = input ?? 0;
  const cachedTokens = cached ?? 0;
  if (cachedTokens > inputTokens) inputTokens += cachedTokens;
  return {
    model: explicit.model || first(attrs, ['gen_ai.response.model', 'gen_ai.request.model']),
    provider: explicit.provider || first(attrs, ['gen_ai.provider.name', 'gen_ai.system']),
    userId: explicit.userId || first(attrs, ['user.id', 'enduser.id']),
    inputTokens,
    outputTokens: output ?? 0,
    cachedTokens,
    hasTokens: input !== undefined || output !== undefined || cached !== undefined,
  };
}
