/**
 * The wire reader (ingest/otlp/wire.ts) against the decoder it replaced
 * (protobufjs Type.decode + mapping, tests/support/otlp-decode-oracle.ts):
 * for generated requests, their corruptions and hand-made edge cases, both
 * decode to the same OTLP shapes or both reject the body.
 */
import { describe, expect, it } from 'vitest';
import { DecodeError, decodeLogsProtobuf, decodeTracesProtobuf } from '../../ingest/otlp/decode.js';
import { FuzzGen } from '../e2e/fuzz-gen.js';
import { oracleLogs, oracleTraces } from '../support/otlp-decode-oracle.js';
import { logsProtobuf, tracesProtobuf } from './fixtures.js';
import { pb, utf8 } from '../support/pb.js';

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

function run(fn: () => unknown): Outcome {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Same output, or both a DecodeError. */
function agree(kind: 'traces' | 'logs', body: Uint8Array, label: string): boolean {
  const mine = run(() => (kind === 'traces' ? decodeTracesProtobuf(body) : decodeLogsProtobuf(body)));
  const theirs = run(() => (kind === 'traces' ? oracleTraces(body) : oracleLogs(body)));
  if (!mine.ok) expect(mine.error, label).toBeInstanceOf(DecodeError);
  expect(mine.ok, `${label}: ${mine.ok ? 'decoded' : String((mine as { error: unknown }).error)} vs oracle ${theirs.ok ? 'decoded' : String((theirs as { error: unknown }).error)}`).toBe(theirs.ok);
  if (mine.ok && theirs.ok) expect(mine.value, label).toEqual(theirs.value);
  return mine.ok;
}

const s = utf8;

describe('binary OTLP: the wire reader decodes exactly as protobufjs Type.decode did', () => {
  it('generated traces and logs, and corruptions of them (seeded)', () => {
    const g = new FuzzGen(20261121);
    let decoded = 0;
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const traces = { resourceSpans: [{ resource: g.resource(), scopeSpans: [{ scope: { name: g.str(), version: '1' }, spans: Array.from({ length: 1 + g.int(3) }, () => g.span()) }] }] };
      const logs = { resourceLogs: [{ resource: g.resource(), scopeLogs: [{ scope: { name: g.str() }, logRecords: Array.from({ length: 1 + g.int(3) }, () => g.log()) }] }] };
      for (const [kind, json] of [['traces', traces], ['logs', logs]] as const) {
        let body: Buffer;
        try {
          body = kind === 'traces' ? tracesProtobuf(json) : logsProtobuf(json);
        } catch {
          continue; // protobufjs refuses to encode some generated values (odd-length hex ids)
        }
        if (agree(kind, body, `${kind} #${i}`)) decoded++;
        for (let c = 0; c < 3; c++) (agree(kind, g.corrupt(body), `${kind} #${i} corruption ${c}`) ? decoded++ : rejected++);
      }
    }
    // Both outcomes were exercised.
    expect(decoded).toBeGreaterThan(500);
    expect(rejected).toBeGreaterThan(100);
  });

  it('edge cases: repeated singular messages merge, wrong wire types and unknown fields are skipped, bad input is rejected', () => {
    const kv = (key: string, value: Uint8Array) => pb([[1, 2, s(key)], [2, 2, value]]);
    const span = pb([
      [1, 2, Buffer.alloc(16, 1)], [2, 2, Buffer.alloc(8, 2)], [5, 2, s('first')], [5, 2, s('second')],
      [7, 1, 1_763_719_200_123_456_789n], [8, 1, 18_446_744_073_709_551_615n],
      [9, 2, kv('a', pb([[1, 2, s('x')], [3, 0, 5]]))], // two oneof members: the later one
      [9, 2, kv('arr', pb([[5, 2, pb([[1, 2, pb([[1, 2, s('p')]])]])], [5, 2, pb([[1, 2, pb([[2, 0, 1]])]])]]))], // arrayValue twice: merged
      [9, 2, pb([[1, 2, s('v')], [2, 2, pb([[1, 2, s('one')]])], [2, 2, pb([[4, 1, 4607182418800017408n]])]])], // value twice
      [6, 2, s('wrong wire type for kind')], [99, 0, 7], [98, 5, 1], [97, 1, 2n],
      [15, 2, pb([[2, 2, s('msg')]])], [15, 2, pb([[3, 0, 2]])], // status twice: merged
      [16, 5, 0x301], [11, 2, pb([[1, 1, 5n], [2, 2, s('ev')]])], [13, 2, pb([[1, 2, Buffer.alloc(16, 3)], [6, 5, 1]])],
    ]);
    const request = (spans: Uint8Array[], resource = pb([[1, 2, kv('service.name', pb([[1, 2, s('svc')]]))], [3, 2, pb([[2, 2, s('host')]])]])) =>
      pb([[1, 2, pb([[1, 2, resource], [2, 2, pb([[1, 2, pb([[1, 2, s('scope')]])], ...spans.map((x) => [2, 2, x] as [number, number, Uint8Array])])], [3, 2, s('https://schema')]])]]);
    expect(agree('traces', request([span]), 'edge span')).toBe(true);
    const d = decodeTracesProtobuf(request([span]));
    const sp = d.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(sp).toMatchObject({ name: 'second', startTimeUnixNano: '1763719200123456789', endTimeUnixNano: '18446744073709551615', status: { code: 2, message: 'msg' }, flags: 0x301 });
    expect(d.resourceSpans[0]!.resource.entityRefsCount).toBe(1);

    const rejectedBodies: Array<[string, Uint8Array]> = [
      ['truncated', request([span]).subarray(0, 40)],
      ['field number 0', pb([[0, 0, 1]])],
      ['invalid UTF-8 name', request([pb([[5, 2, Buffer.from([0xc3, 0x28])]])])],
      ['nested length overruns its parent', pb([[1, 2, Buffer.from([0x12, 0x7f, 0x00])]])],
      ['invalid wire type', Buffer.from([0x0e, 0x00])],
      ['AnyValue nested too deep', request([pb([[9, 2, kv('deep', Array.from({ length: 40 }).reduce<Uint8Array>((inner) => pb([[5, 2, pb([[1, 2, inner]])]]), pb([[1, 2, s('x')]])))]])])],
      ['invalid UTF-8 in an entity ref', request([span], pb([[3, 2, pb([[2, 2, Buffer.from([0xff])]])]]))],
    ];
    for (const [label, body] of rejectedBodies) expect(agree('traces', body, label), label).toBe(false);
    expect(() => decodeTracesProtobuf(rejectedBodies[5]![1])).toThrow(/nested deeper than 32 levels/);

    const log = pb([[1, 1, 5n], [2, 0, 9], [3, 2, s('INFO')], [5, 2, pb([[1, 2, s('body')]])], [5, 2, pb([[6, 2, pb([])]])], [9, 2, Buffer.alloc(16, 4)], [12, 2, s('evt')], [8, 5, 1]]);
    expect(agree('logs', pb([[1, 2, pb([[2, 2, pb([[2, 2, log]])]])]]), 'edge log')).toBe(true);
  });

  it('attribute keys from the key table: 20,000 distinct keys (slots reused), keys of every length, non-ASCII and over-long keys decode as the oracle does, and a key in a reused slot is never another key', () => {
    const kv = (key: Uint8Array, value: string) => pb([[1, 2, key], [2, 2, pb([[1, 2, s(value)]])]]);
    const keys: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) keys.push(s(`k.${i.toString(36)}.${'x'.repeat(i % 70)}`));
    keys.push(s(''), s('é.key'), s('日本語'), s('__proto__'), s('constructor'), s('y'.repeat(64)), s('y'.repeat(65)), s('y'.repeat(63)));
    const spanWith = (from: number, to: number) =>
      pb([[1, 2, Buffer.alloc(16, 1)], [2, 2, Buffer.alloc(8, 2)], [5, 2, s('op')], [7, 1, 1n], [8, 1, 2n], ...keys.slice(from, to).map((k, j) => [9, 2, kv(k, `v${from + j}`)] as [number, number, Uint8Array])]);
    const request = (spans: Uint8Array[]) => pb([[1, 2, pb([[2, 2, pb(spans.map((x) => [2, 2, x] as [number, number, Uint8Array]))]])]]);
    // Twice over, so that the second pass meets keys whose slots other keys took in between.
    for (let pass = 0; pass < 2; pass++) {
      for (let from = 0; from < keys.length; from += 500) {
        const body = request([spanWith(from, Math.min(from + 500, keys.length))]);
        expect(agree('traces', body, `keys ${from}…, pass ${pass}`)).toBe(true);
        const attrs = decodeTracesProtobuf(body).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes!;
        attrs.forEach((a, j) => expect(a.key).toBe(Buffer.from(keys[from + j]!).toString('utf8')));
      }
    }
    expect(agree('traces', request([spanWith(0, 0), pb([[9, 2, kv(Buffer.from([0x6b, 0xc3, 0x28]), 'bad')]])]), 'invalid UTF-8 key')).toBe(false);
  });
});
