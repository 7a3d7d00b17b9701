/**
 * The worker's columnar path for protobuf spans (processors/span-wire.ts,
 * span-columns.ts) against the object path it bypasses (decode → otlpSpanToRow
 * → encodeSpansNative, and the aggregates of the rows): the same Native block
 * byte for byte, the same aggregate rows, the same rejections — for generated
 * requests, their corruptions and hand-made edge cases. Each case also
 * records whether the columnar reader took the message or handed it back, so
 * the comparison cannot pass by always handing back.
 */
import { describe, expect, it } from 'vitest';
import { FuzzGen } from '../e2e/fuzz-gen.js';
import { tracesProtobuf } from '../ingest/fixtures.js';
import { pb, utf8 as s, type PbField } from '../support/pb.js';
import { makeTemplate, RequestFactory } from '../../bench/e2e/request.js';
import { processBatch, processBatchEncoded, type RawItem } from '../../processors/worker.js';
import { encodeSpansNative } from '../../processors/encode-native.js';
import { aggregateBatch } from '../../processors/aggregate.js';
import { aggregateFlagVariants } from '../../processors/flag-variants.js';
import { SpanColumns } from '../../processors/span-columns.js';
import { NotColumnar, readSpansInto, type SpanFacts } from '../../processors/span-wire.js';

const item = (raw: Uint8Array, offset = '7'): RawItem => ({ offset, raw, meta: { tenant: 'proj', format: 'otlp-proto', kind: 'spans', receivedAtMs: 1_763_700_000_000 } });

function bytesOf(data: unknown): Buffer {
  return Array.isArray(data) ? Buffer.concat(data as Uint8Array[]) : Buffer.from(data as Uint8Array);
}

function jsonLines(data: unknown): unknown[] {
  return String(data).split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
}

/**
 * Compare both paths on one request body.
 * @returns 'columnar' when the columnar reader took it, 'handed back' otherwise.
 */
function compare(body: Uint8Array, label: string): 'columnar' | 'handed back' {
  const reference = processBatch([item(body)]);
  const encoded = processBatchEncoded([item(body)], { blockRows: Number.POSITIVE_INFINITY });
  expect(encoded.rejected, label).toEqual(reference.rejected);
  expect(encoded.counts.spans, label).toBe(reference.spans.length);
  if (reference.spans.length > 0) expect(bytesOf((encoded.bodies.spans as { data: unknown }).data).equals(encodeSpansNative(reference.spans)), `${label}: Native block`).toBe(true);
  expect(jsonLines((encoded.bodies.span_metrics_1m as { data: unknown }).data), label).toEqual(JSON.parse(JSON.stringify(reference.metrics)));
  expect(jsonLines((encoded.bodies.span_user_costs_1m as { data: unknown }).data), label).toEqual(JSON.parse(JSON.stringify(reference.userCosts)));
  expect(jsonLines((encoded.bodies.flag_variant_metrics_1m as { data: unknown }).data), label).toEqual(JSON.parse(JSON.stringify(reference.flagVariants)));

  const cols = new SpanColumns();
  const facts: SpanFacts[] = [];
  try {
    readSpansInto(body, 'proj', cols, facts);
  } catch {
    return 'handed back';
  }
  // Taken: the rows are the reference's, and the facts aggregate as the rows do.
  expect(reference.rejected, label).toEqual([]);
  expect(cols.n, label).toBe(reference.spans.length);
  expect(aggregateBatch(facts), label).toEqual(aggregateBatch(reference.spans));
  expect(aggregateFlagVariants(facts), label).toEqual(aggregateFlagVariants(reference.spans));
  return 'columnar';
}

const kv = (key: string, value: Uint8Array): Uint8Array => pb([[1, 2, s(key)], [2, 2, value]]);
const str = (v: string): Uint8Array => pb([[1, 2, s(v)]]);
const int = (v: number | bigint): Uint8Array => pb([[3, 0, v]]);
const attr = (key: string, value: Uint8Array): PbField => [9, 2, kv(key, value)];
const T0 = 1_763_719_200_123_456_789n;

/** A span with ids and times, plus `fields`. */
function span(fields: PbField[], id = 1): Uint8Array {
  return pb([[1, 2, Buffer.alloc(16, 0xab)], [2, 2, Buffer.alloc(8, id)], [5, 2, s('op')], [7, 1, T0], [8, 1, T0 + 1_500_000n], ...fields]);
}

/** ExportTraceServiceRequest: one ResourceSpans of the given fields. */
function request(resourceSpans: PbField[][]): Uint8Array {
  return pb(resourceSpans.map((f) => [1, 2, pb(f)] as PbField));
}

const resource: PbField = [1, 2, pb([[1, 2, kv('service.name', str('checkout'))], [1, 2, kv('host.name', str('h1'))], [2, 0, 3]])];
const scope = (spans: Uint8Array[], extra: PbField[] = []): PbField => [2, 2, pb([[1, 2, pb([[1, 2, s('lib')], [2, 2, s('1.2')], [3, 2, kv('a', int(1))]])], ...spans.map((x) => [2, 2, x] as PbField), ...extra])];

describe('worker: protobuf spans read into columns make the object path\'s rows', () => {
  it('the e2e bench\'s requests (SDK-made, gen_ai.* spans, events) are read into columns, byte for byte', () => {
    const factory = new RequestFactory(makeTemplate());
    for (let i = 0; i < 5; i++) expect(compare(new Uint8Array(factory.next().body), `bench request ${i}`)).toBe('columnar');
  });

  it('generated requests and corruptions of them (seeded): same blocks, aggregates and rejections', () => {
    const g = new FuzzGen(20261122, 1_763_700_000_000);
    const outcomes = { columnar: 0, 'handed back': 0 };
    let rejected = 0;
    for (let i = 0; i < 200; i++) {
      const json = { resourceSpans: [{ resource: g.resource(), scopeSpans: [{ scope: { name: g.str(), version: '1' }, spans: Array.from({ length: 1 + g.int(4) }, () => g.span()) }] }] };
      let body: Buffer;
      try {
        body = tracesProtobuf(json);
      } catch {
        continue; // protobufjs refuses to encode some generated values
      }
      const outcome = compare(body, `request #${i}`);
      outcomes[outcome]++;
      // Generated requests hand nothing back but the ones the object path rejects (bad ids, times beyond 2106).
      if (outcome === 'handed back') expect(processBatch([item(body)]).rejected, `request #${i}`).toHaveLength(1);
      for (let c = 0; c < 2; c++) {
        const bad = g.corrupt(body);
        outcomes[compare(bad, `request #${i} corruption ${c}`)]++;
        if (processBatch([item(bad)]).rejected.length > 0) rejected++;
      }
    }
    expect(outcomes.columnar).toBeGreaterThan(120);
    expect(outcomes['handed back']).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(20);
  });

  it('duplicate keys: the later value replaces the text in place; its type code is updated, removed (a string) or added at the end', () => {
    const body = request([[resource, scope([span([
      attr('a', int(1)), attr('b', str('x')), attr('c', pb([[2, 0, 1]])),
      attr('a', str('now a string')), attr('b', pb([[4, 1, 4611686018427387904n]])), attr('c', pb([[2, 0, 0]])), attr('d', pb([])),
      [9, 2, pb([[1, 2, s('e')], [2, 2, str('one')], [2, 2, int(5)]])], // value twice: the later member
      [9, 2, pb([[1, 2, s('f')], [2, 2, pb([[1, 2, s('x')], [3, 0, 9]])]])], // two oneof members in one AnyValue
    ])])]]);
    expect(compare(body, 'duplicates')).toBe('columnar');
    const [row] = processBatch([item(body)]).spans;
    expect(row!.attributes).toEqual({ a: 'now a string', b: '2', c: 'false', d: '', e: '5', f: '9' });
    expect(Object.keys(row!.attributes_types!)).toEqual(['c', 'b', 'd', 'e', 'f']);
  });

  it('every value type, ids, kinds and statuses out of range, events, links, flags, dropped counts, schema URLs in any order', () => {
    const body = request([
      [
        [3, 2, s('https://res/1')], // schema_url before the scopes: still every row's
        resource,
        scope([
          span([
            [4, 2, Buffer.alloc(8, 0)], [6, 0, 9], [3, 2, s('k=v')], [16, 5, 0x301], [10, 0, 2], [12, 0, 3], [14, 0, 4],
            attr('arr', pb([[5, 2, pb([[1, 2, str('p')], [1, 2, int(-3)]])]])), attr('kv', pb([[6, 2, pb([[1, 2, kv('x', pb([[4, 1, 0x7ff8000000000000n]]))]])]])),
            attr('bytes', pb([[7, 2, Buffer.from([0, 255])]])), attr('ü-ключ', str('漢字🙂')), attr('big', int(-9223372036854775808n)),
            [11, 2, pb([[1, 1, T0], [2, 2, s('feature_flag.evaluation')], [3, 2, kv('feature_flag.key', str('new-checkout'))], [3, 2, kv('feature_flag.result.variant', str('on'))]])],
            [13, 2, pb([[1, 2, Buffer.alloc(16, 3)], [2, 2, Buffer.alloc(8, 4)], [6, 5, 1], [4, 2, kv('l', str('v'))]])],
            [15, 2, pb([[2, 2, s('boom')]])], [15, 2, pb([[3, 0, 2]])],
          ]),
          span([[6, 0, -1], [15, 2, pb([[3, 0, 7]])], attr('feature_flag.key', str('f')), attr('feature_flag.variant', str('blue'))], 2),
        ], [[3, 2, s('https://scope/1')]]),
        [2, 2, pb([[2, 2, span([], 3)]])], // a scope container without a scope
      ],
      [[2, 2, pb([[2, 2, span([attr('service.name', str('not the resource'))], 4)]])]], // no resource: unknown_service
    ]);
    expect(compare(body, 'value types')).toBe('columnar');
    const rows = processBatch([item(body)]).spans;
    expect(rows.map((r) => [r.service, r.kind, r.status_code, r.resource_schema_url, r.scope_schema_url])).toEqual([
      ['checkout', 'unspecified', 'error', 'https://res/1', 'https://scope/1'],
      ['checkout', 'unspecified', 'unset', 'https://res/1', 'https://scope/1'],
      ['checkout', 'unspecified', 'unset', 'https://res/1', ''],
      ['unknown_service', 'unspecified', 'unset', '', ''],
    ]);
    expect(processBatch([item(body)]).flagVariants.map((f) => [f.flag, f.variant])).toEqual([['new-checkout', 'on'], ['f', 'blue']]);
  });

  it('LLM calls: model, provider, user, tokens and cost as the object path prices them', () => {
    const llm = (id: number, model: string, tokens: number): Uint8Array => span([
      attr('gen_ai.provider.name', str('openai')), attr('gen_ai.request.model', str(model)), attr('gen_ai.response.model', str(model)),
      attr('gen_ai.usage.input_tokens', int(tokens)), attr('gen_ai.usage.output_tokens', int(tokens >> 1)),
      attr('gen_ai.usage.cache_read.input_tokens', int(tokens * 2)), attr('user.id', str(`u${id}`)),
    ], id);
    const body = request([[resource, scope([llm(1, 'gpt-4o', 1200), llm(2, 'gpt-4o-mini', 10), llm(3, 'no-such-model', 5), span([attr('enduser.id', str('e1'))], 4)])]]);
    expect(compare(body, 'llm')).toBe('columnar');
    const r = processBatch([item(body)]);
    expect(r.spans.map((x) => [x.model, x.user_id, x.input_tokens, x.unpriced])).toEqual([
      ['gpt-4o', 'u1', 3600, 0], ['gpt-4o-mini', 'u2', 30, 0], ['no-such-model', 'u3', 15, 1], ['', 'e1', 0, 0],
    ]);
    expect(r.spans[0]!.cost_usd).toBeGreaterThan(0);
  });

  it('what it does not reproduce is handed back, and the object path\'s rows come out all the same', () => {
    const cases: Array<[string, Uint8Array]> = [
      ['a key an object would enumerate first', request([[resource, scope([span([attr('b', str('1')), attr('10', str('2'))])])]])],
      ['__proto__', request([[resource, scope([span([attr('__proto__', str('x')), attr('a', str('y'))])])]])],
      ['resource after its scopes', request([[scope([span([])]), resource]])],
      ['scope after its spans', request([[resource, [2, 2, pb([[2, 2, span([])], [1, 2, pb([[1, 2, s('late')]])]])]]])],
      ['many attributes', request([[resource, scope([span(Array.from({ length: 200 }, (_, i) => attr(`k${i}`, str(String(i)))))])]])],
    ];
    for (const [label, body] of cases) {
      expect(() => readSpansInto(body, 'proj', new SpanColumns(), []), label).toThrow(NotColumnar);
      expect(compare(body, label), label).toBe('handed back');
      expect(processBatch([item(body)]).spans.length, label).toBeGreaterThan(0);
    }
  });

  it('a bad message is rejected with the object path\'s reason, and its rows leave no trace in the block', () => {
    const good = request([[resource, scope([span([attr('a', str('b'))])])]]);
    const bads: Array<[string, Uint8Array, RegExp]> = [
      ['all-zero trace id', request([[resource, scope([span([]), pb([[1, 2, Buffer.alloc(16, 0)], [2, 2, Buffer.alloc(8, 1)], [7, 1, T0], [8, 1, T0]])])]]), /traceId is missing or all zeros/],
      ['time beyond DateTime64', request([[resource, scope([span([]), span([[8, 1, 18_446_744_073_709_551_615n]], 2)])]]), /endTimeUnixNano: .*later than the acceptance window/],
      ['truncated', good.subarray(0, good.length - 3), /not a valid protobuf ExportTraceServiceRequest/],
    ];
    for (const [label, bad, reason] of bads) {
      const out = processBatchEncoded([item(good, '1'), item(bad, '2'), item(good, '3')], { blockRows: Number.POSITIVE_INFINITY });
      expect(out.rejected, label).toEqual([{ offset: '2', reason: expect.stringMatching(reason) as unknown as string }]);
      expect(out.counts.spans, label).toBe(2);
      const ref = processBatch([item(good, '1'), item(good, '3')]);
      expect(bytesOf((out.bodies.spans as { data: unknown }).data).equals(encodeSpansNative(ref.spans)), label).toBe(true);
    }
  });

  it('blocks of 1,024 rows break where the object path broke them, over messages of both paths', () => {
    const factory = new RequestFactory(makeTemplate());
    const odd = request([[resource, scope([span([attr('1st', str('x'))])])]]);
    const batch = Array.from({ length: 25 }, (_, i) => item(i % 7 === 3 ? odd : new Uint8Array(factory.next().body), String(i)));
    const blocks = processBatchEncoded(batch).bodies.spans as { data: Uint8Array[] };
    const rows = processBatch(batch).spans;
    const expected: Buffer[] = [];
    let from = 0;
    let count = 0;
    for (const it of batch) {
      count += processBatch([it]).spans.length;
      if (count - from >= 1024) {
        expected.push(encodeSpansNative(rows.slice(from, count)));
        from = count;
      }
    }
    if (from < count) expected.push(encodeSpansNative(rows.slice(from, count)));
    expect(blocks.data.length).toBe(expected.length);
    blocks.data.forEach((b, i) => expect(Buffer.from(b).equals(expected[i]!), `block ${i}`).toBe(true));
  });
});
