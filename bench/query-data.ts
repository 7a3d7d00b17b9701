/**
 * Synthetic day of spans for bench/query.ts, generated inside ClickHouse
 * (INSERT … SELECT from numbers(), no client round trip per row), and the
 * span_metrics_1m rows of the pre-0004 schema built from those spans.
 *
 * Shape of the day (span number n, trace t = ⌊n / 10⌋, position i = n mod 10):
 * - 10 spans per trace; traces evenly spaced over the 24 h; span i starts i ms
 *   after the trace; span 0 is the root (kind server), the others its children.
 * - 8 services × 50 operations: operation o belongs to service o mod 8 and is
 *   named `<service>.op<o>` (`GET|POST /api/<service>` for o < 8); roots use
 *   o < 8, children o uniform in 0…49, LLM calls o ∈ {3, 11, 19, 27, 35, 43}.
 * - Spans i ∈ {3, 6, 9} are LLM calls (30 %): one of 3 models (gpt-4o / openai,
 *   claude-sonnet-4 / anthropic, gemini-2.5-pro / google), 200–2000 input
 *   tokens (0–150 cached), 50–500 output tokens, cost in USD from a fixed
 *   per-token price table.
 * - 10,000 users: every span of a trace carries its trace's user.id.
 * - Durations log-normal: median 2 + 3·o ms (σ = 1) for plain spans, 800 ms
 *   (σ = 0.6) for LLM calls; 1 % of spans have status error.
 * - ~8 span attributes, 3 resource attributes, random 128-bit trace ids and
 *   64-bit span ids (hex), as the pipeline stores them.
 */

/** Statement filling {db}.spans with spans [first, first + count) of the day. */
export const SPANS_SQL = `
INSERT INTO {db:Identifier}.spans
WITH
  intDiv(number, 10) AS tr,
  number % 10 AS si,
  {day_ns:Int64} + toInt64(intDiv(tr * 86400000000, {n_traces:UInt64}) * 1000) + toInt64(si) * 1000000 AS start_ns,
  si IN (3, 6, 9) AS is_llm,
  if(si = 0, cityHash64(tr, 7) % 8, if(is_llm, 3 + 8 * (cityHash64(number, 4) % 6), cityHash64(number, 4) % 50)) AS op,
  ['gateway', 'checkout', 'search', 'chat', 'auth', 'catalog', 'billing', 'notify'][op % 8 + 1] AS svc,
  ((cityHash64(number, 5) % 1000000000) + 0.5) / 1e9 AS u1,
  ((cityHash64(number, 6) % 1000000000) + 0.5) / 1e9 AS u2,
  sqrt(-2 * log(u1)) * cos(2 * pi() * u2) AS z,
  greatest(1000, toUInt64(exp(if(is_llm, log(800), log(2 + op * 3)) + if(is_llm, 0.6, 1.0) * z) * 1e6)) AS dur_ns,
  cityHash64(number, 8) % 3 AS mi,
  if(is_llm, ['gpt-4o', 'claude-sonnet-4', 'gemini-2.5-pro'][mi + 1], '') AS model,
  if(is_llm, ['openai', 'anthropic', 'google'][mi + 1], '') AS provider,
  if(is_llm, 200 + cityHash64(number, 9) % 1800, 0) AS in_tok,
  if(is_llm, 50 + cityHash64(number, 10) % 450, 0) AS out_tok,
  if(is_llm, (cityHash64(number, 11) % 4) * 50, 0) AS cached_tok,
  concat('user-', toString(cityHash64(tr, 12) % 10000)) AS user,
  if(op < 8, concat(['GET', 'POST'][op % 2 + 1], ' /api/', svc), concat(svc, '.op', toString(op))) AS op_name
SELECT
  {tenant:String},
  lower(hex(cityHash64(tr, 1))) || lower(hex(cityHash64(tr, 2))),
  lower(hex(cityHash64(number, 3))),
  if(si = 0, '', lower(hex(cityHash64(tr * 10, 3)))),
  op_name,
  if(si = 0, 'server', if(is_llm, 'client', 'internal')),
  svc,
  fromUnixTimestamp64Nano(start_ns, 'UTC'),
  fromUnixTimestamp64Nano(start_ns + toInt64(dur_ns), 'UTC'),
  dur_ns,
  if(cityHash64(number, 13) % 100 = 0, 'error', 'ok'),
  '',
  'bench', '1.0.0',
  map('service.name', svc, 'host.name', concat('host-', toString(cityHash64(tr, 14) % 20)), 'deployment.environment', 'prod'),
  if(is_llm,
     map('gen_ai.request.model', model, 'gen_ai.system', provider, 'gen_ai.usage.input_tokens', toString(in_tok),
         'gen_ai.usage.output_tokens', toString(out_tok), 'gen_ai.operation.name', 'chat', 'user.id', user,
         'server.address', concat('api.', provider, '.com'), 'gen_ai.request.temperature', '0.2'),
     map('http.request.method', 'GET', 'http.route', op_name, 'http.response.status_code', '200', 'user.id', user,
         'server.address', concat(svc, '.internal'), 'url.scheme', 'http', 'network.protocol.version', '1.1',
         'thread.name', 'main')),
  '[]',
  model, provider, user, in_tok, out_tok, cached_tok,
  if(is_llm, (in_tok - cached_tok) * [2.5e-6, 3e-6, 1.25e-6][mi + 1] + cached_tok * [1.25e-6, 0.3e-6, 0.31e-6][mi + 1]
             + out_tok * [10e-6, 15e-6, 10e-6][mi + 1], NULL),
  0
FROM numbers({first:UInt64}, {count:UInt64})`;

/**
 * Statement filling the pre-0004 span_metrics_1m (keyed by user, one DDSketch
 * per row) from the spans starting in [from_ns, to_ns). The DDSketch bin index
 * of a duration x ms is ⌈log2(x) · multiplier⌉ — the logarithmic mapping of
 * @datadog/sketches-js (multiplier = ln 2 / ln(1 + 2α/(1−α)), α = 0.01), i.e.
 * what processors/sketch.ts stores.
 */
export const OLD_METRICS_SQL = `
INSERT INTO {db:Identifier}.span_metrics_1m
SELECT tenant, toStartOfMinute(start_time) AS minute, service, name, model, provider, user_id,
  count(), countIf(status_code = 'error'), sum(duration_ns),
  sum(input_tokens), sum(output_tokens), sum(cached_tokens), sum(coalesce(cost_usd, 0)), sum(unpriced),
  sumMap(map(toInt32(ceil(log2(duration_ns / 1e6) * {multiplier:Float64})), toUInt64(1))), 0
FROM {db:Identifier}.spans
WHERE tenant = {tenant:String}
  AND start_time >= fromUnixTimestamp64Nano({from_ns:Int64}, 'UTC') AND start_time < fromUnixTimestamp64Nano({to_ns:Int64}, 'UTC')
GROUP BY tenant, minute, service, name, model, provider, user_id`;

/**
 * Copy the day's span_metrics_1m rows (post-0004 schema) to `days` earlier
 * days, so that 7- and 30-day queries read as many aggregate rows as a month of
 * this traffic would hold (the rollup views fill span_metrics_1h from them).
 */
export const SPREAD_METRICS_SQL = `
INSERT INTO {db:Identifier}.span_metrics_1m
SELECT tenant, minute - toIntervalDay(d) AS shifted, service, operation, model, provider,
  count, error_count, duration_sum_ns, input_tokens, output_tokens, cached_tokens, cost_usd, unpriced_count, sketch_bins, sketch_zero
FROM {db:Identifier}.span_metrics_1m
-- (the shifted minute must not be aliased "minute": WHERE would then see the alias)
ARRAY JOIN range(1, {days:UInt32} + 1) AS d
WHERE tenant = {tenant:String}
  AND minute >= toDateTime({day_s:UInt32}, 'UTC') AND minute < toDateTime({day_s:UInt32} + 86400, 'UTC')`;
