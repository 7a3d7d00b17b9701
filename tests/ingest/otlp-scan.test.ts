/**
 * The trace fast path (ingest/otlp/scan.ts) may only say "plainly valid" when
 * the full path (decode + validate) accepts every span with no warning and
 * the same message key; it must say so for ordinary requests, and must not
 * for each kind of problem the full path reports.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { decodeTracesProtobuf } from '../../ingest/otlp/decode.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { scanTraces } from '../../ingest/otlp/scan.js';
import { validateTraces } from '../../ingest/otlp/validate.js';
import { envelopeKey } from '../../ingest/envelopes.js';
import { acceptanceWindow } from '../../schemas/limits.js';
import { makeTemplate, RequestFactory } from '../../bench/e2e/request.js';
import { FuzzGen } from '../e2e/fuzz-gen.js';
import { tracesProtobuf } from './fixtures.js';

const now = Date.now();
const window = acceptanceWindow({ retentionDays: 30 }, now);

/** Full path outcome: null when the body does not decode. */
function full(body: Uint8Array): { accepted: number; rejected: number; unstored: number; key: string } | null {
  try {
    const v = validateTraces(decodeTracesProtobuf(body), 't', now, window);
    return { accepted: v.accepted, rejected: v.rejected, unstored: v.unstored, key: v.envelopes[0] === undefined ? '' : envelopeKey(v.envelopes[0]) };
  } catch {
    return null;
  }
}

/** The scan's claim, checked against the full path. */
function check(body: Uint8Array, label: string): boolean {
  const scan = scanTraces(body, window);
  if (scan === null) return false;
  expect(full(body), label).toEqual({ accepted: scan.spans, rejected: 0, unstored: 0, key: scan.key });
  return true;
}

const span = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  traceId: '0af7651916cd43dd8448eb211c80319c',
  spanId: 'b7ad6b7169203331',
  name: 'GET /cart',
  kind: 2,
  startTimeUnixNano: String(BigInt(now - 1000) * 1_000_000n),
  endTimeUnixNano: String(BigInt(now - 900) * 1_000_000n),
  attributes: [{ key: 'a', value: { stringValue: 'x' } }, { key: 'b', value: { intValue: '1' } }],
  ...over,
});
const request = (spans: Array<Record<string, unknown>>, resource: Record<string, unknown> = { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }) =>
  tracesProtobuf({ resourceSpans: [{ resource, scopeSpans: [{ scope: { name: 's' }, spans }] }] });

describe('trace intake fast path: proved plainly valid only when the full path accepts everything', () => {
  it('ordinary requests (the bench request, OTel SDK spans) take the fast path with the same key', () => {
    const factory = new RequestFactory(makeTemplate());
    for (let i = 0; i < 5; i++) expect(check(new Uint8Array(factory.next().body), `bench request ${i}`)).toBe(true);
    expect(check(request([span(), span({ spanId: 'b7ad6b7169203332', parentSpanId: 'b7ad6b7169203331' })]), 'two spans')).toBe(true);
  });

  it('generated requests and their corruptions: whenever the scan says valid, the full path agrees (seeded)', () => {
    const g = new FuzzGen(61, now);
    let fast = 0;
    let slow = 0;
    for (let i = 0; i < 400; i++) {
      const json = { resourceSpans: [{ resource: g.resource(), scopeSpans: [{ scope: { name: g.str(), version: '1' }, spans: Array.from({ length: 1 + g.int(3) }, () => g.span()) }] }] };
      let body: Buffer;
      try {
        body = tracesProtobuf(json);
      } catch {
        continue;
      }
      for (const b of [body, g.corrupt(body)]) (check(b, `request ${i}`) ? fast++ : slow++);
    }
    expect(fast).toBeGreaterThan(20);
    expect(slow).toBeGreaterThan(200);
  });

  /** n attributes with distinct keys, except that key `dupOf` is repeated at index `at`. */
  const manyKeys = (n: number, dupOf: number, at: number) =>
    Array.from({ length: n }, (_, i) => ({ key: `attr.${i === at ? dupOf : i}`, value: { intValue: String(i) } }));

  it('each problem the full path reports sends the request down the full path', () => {
    const old = String(BigInt(now - 40 * 86_400_000) * 1_000_000n);
    const cases: Array<[string, Uint8Array]> = [
      ['bad span id', request([span({ spanId: '0000000000000000' })])],
      ['short trace id', request([span({ traceId: '0af7651916cd43dd' })])],
      ['bad parent id', request([span({ parentSpanId: '00000000' })])],
      ['empty name', request([span({ name: '' })])],
      ['end before start', request([span({ endTimeUnixNano: String(BigInt(now - 2000) * 1_000_000n) })])],
      ['start not set', request([span({ startTimeUnixNano: '0' })])],
      ['older than the retention', request([span({ startTimeUnixNano: old, endTimeUnixNano: old })])],
      ['duplicate span attribute', request([span({ attributes: [{ key: 'a', value: { stringValue: 'x' } }, { key: 'a', value: { stringValue: 'y' } }] })])],
      ['duplicate event attribute', request([span({ events: [{ timeUnixNano: '1', name: 'e', attributes: [{ key: 'k', value: {} }, { key: 'k', value: {} }] }] })])],
      ['duplicate resource attribute', request([span()], { attributes: [{ key: 'r', value: {} }, { key: 'r', value: {} }] })],
      // Keys are compared as FNV-1a hashes of their bytes (keyHash): pairwise up to 32 keys, a Set above.
      ['duplicate among 20 attributes', request([span({ attributes: manyKeys(20, 3, 17) })])],
      ['duplicate among 40 attributes', request([span({ attributes: manyKeys(40, 0, 39) })])],
      ['duplicate long (untabled) keys', request([span({ attributes: [{ key: 'k'.repeat(80), value: {} }, { key: 'x', value: {} }, { key: 'k'.repeat(80), value: {} }] })])],
      ['duplicate non-ASCII keys', request([span({ attributes: [{ key: 'schlüssel', value: {} }, { key: 'schlüssel', value: {} }] })])],
      ['an absent key beside an empty one (both decode to "")', request([span({ attributes: [{ value: { stringValue: 'x' } }, { key: '', value: {} }] })])],
    ];
    for (const [label, body] of cases) {
      expect(scanTraces(body, window), label).toBeNull();
      const f = full(body);
      expect(f !== null && f.rejected === 0 && f.unstored === 0, `${label}: the full path reports it`).toBe(false);
    }
    // Wire-level problems: entity references, a singular field twice, invalid UTF-8, truncation.
    const good = request([span()]);
    expect(scanTraces(good.subarray(0, good.length - 3), window), 'truncated').toBeNull();
    expect(scanTraces(request([span()], { attributes: [], entityRefs: [{ type: 'host', idKeys: ['host.id'] }] }), window), 'entity refs').toBeNull();
    const Span = otlpProto().ExportTraceServiceRequest.root.lookupType('opentelemetry.proto.trace.v1.Span');
    const oneSpan = Span.encode(Span.fromObject({ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2), name: 'n', startTimeUnixNano: String(BigInt(now) * 1_000_000n), endTimeUnixNano: String(BigInt(now) * 1_000_000n) })).finish();
    const wrap = (spanBytes: Uint8Array): Uint8Array => {
      const scope = protobuf.Writer.create().uint32(18).bytes(spanBytes).finish();
      const rs = protobuf.Writer.create().uint32(18).bytes(scope).finish();
      return protobuf.Writer.create().uint32(10).bytes(rs).finish();
    };
    expect(check(wrap(oneSpan), 'hand-made span')).toBe(true);
    for (const n of [20, 40]) expect(check(request([span({ attributes: manyKeys(n, -1, -1) })]), `${n} distinct attributes`)).toBe(true);
    // Keys that differ only late, in case, or by one non-ASCII character are told apart.
    const near = [{ key: 'http.request.method', value: {} }, { key: 'http.request.methoD', value: {} }, { key: 'ключ', value: {} }, { key: 'ключи', value: {} }, { key: 'a', value: { kvlistValue: { values: [{ key: 'a', value: {} }, { key: 'b', value: {} }] } } }];
    expect(check(request([span({ attributes: near })]), 'near-identical keys, and a kvlist reusing its parent key')).toBe(true);
    expect(scanTraces(wrap(Buffer.concat([oneSpan, oneSpan])), window), 'every field twice').toBeNull();
    const badUtf8 = Buffer.concat([oneSpan, protobuf.Writer.create().uint32(42).bytes(Buffer.from([0xc3, 0x28])).finish()]);
    expect(scanTraces(wrap(badUtf8), window), 'invalid UTF-8').toBeNull();
    expect(full(wrap(badUtf8))).toBeNull();
  });
});
