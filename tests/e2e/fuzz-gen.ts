/**
 * Seeded generators of hostile ingest input for tests/e2e/fuzz.test.ts:
 * OTLP traces and logs (protobuf and JSON) whose fields are drawn from the
 * whole OTLP value space — times from 0 to 2^64−1, ids of every length
 * (zeros included), empty / huge / non-ASCII strings, every AnyValue kind
 * nested up to 40 levels, NaN and ±Infinity doubles, int64 extremes — plus
 * native JSON records and corrupted bodies. Deterministic for a seed.
 */
import protobuf from 'protobufjs';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf } from '../../ingest/otlp/decode.js';
import { tracesProtobuf, logsProtobuf } from '../ingest/fixtures.js';
import { mulberry32 as prng } from '../support/prng.js';
export { mulberry32 as prng } from '../support/prng.js';

/** Records a (possibly corrupted) OTLP body holds once decoded; 0 when it does not decode. */
function countRecords(kind: 'traces' | 'logs', proto: boolean, body: Buffer): number {
  try {
    if (kind === 'traces') {
      const d = proto ? decodeTracesProtobuf(body) : decodeTracesJson(body);
      return d.resourceSpans.reduce((n, rs) => n + rs.scopeSpans.reduce((m, ss) => m + ss.spans.length, 0), 0);
    }
    const d = proto ? decodeLogsProtobuf(body) : decodeLogsJson(body);
    return d.resourceLogs.reduce((n, rl) => n + rl.scopeLogs.reduce((m, sl) => m + sl.logRecords.length, 0), 0);
  } catch {
    return 0;
  }
}

/** One generated request. */
export interface FuzzCase {
  url: '/v1/traces' | '/v1/logs' | '/api/v1/ingest/spans' | '/api/v1/ingest/logs';
  contentType: string;
  body: Buffer;
  /** Records in the body when it decodes (for the acked ⇒ stored bookkeeping). */
  records: number;
}

const NS = 1_000_000n;

export class FuzzGen {
  private readonly r: () => number;
  private readonly nowNs: bigint;
  private spanSeq = 0;

  constructor(seed: number, nowMs = Date.now()) {
    this.r = prng(seed);
    this.nowNs = BigInt(nowMs) * NS;
  }

  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }

  /** Mostly a recent time, sometimes anything from 0 to 2^64−1. */
  time(): string {
    if (this.chance(0.8)) return (this.nowNs - BigInt(this.int(3_600_000)) * NS).toString();
    return this.pick([
      '0', '1', '946684800000000000',
      (this.nowNs - 31n * 86_400_000_000_000n).toString(),
      (this.nowNs + 2n * 86_400_000_000_000n).toString(),
      '4294967295000000000', '4294967296000000000', '9223372036854775807', '9223372036854775808', '18446744073709551615',
      (this.nowNs + 60_000n * NS).toString(),
    ]);
  }

  hex(bytes: number): string {
    if (this.chance(0.05)) return '0'.repeat(bytes * 2);
    let s = '';
    for (let i = 0; i < bytes * 2; i++) s += '0123456789abcdef'[this.int(16)];
    return s;
  }
  /** A span id that is unique in the run (so stored rows can be counted), or a broken one. */
  spanId(): string {
    if (this.chance(0.03)) return this.pick(['', this.hex(4), this.hex(16), '0000000000000000']);
    this.spanSeq += 1;
    return (BigInt(this.spanSeq) + 0x1000000000n).toString(16).padStart(16, '0');
  }
  traceId(): string {
    if (this.chance(0.03)) return this.pick(['', this.hex(8), '00000000000000000000000000000000']);
    return this.hex(16);
  }

  str(): string {
    return this.pick([
      '', 'GET /cart', 'ü漢字🙂', 'x'.repeat(this.int(3000)), '\u0000\u0001', '"quoted"\n', 'a'.repeat(1 + this.int(40)),
    ]);
  }

  anyValue(depth: number): Record<string, unknown> {
    const kinds = depth > 0 ? 8 : 6;
    switch (this.int(kinds)) {
      case 0: return { stringValue: this.str() };
      case 1: return { boolValue: this.chance(0.5) };
      case 2: return { intValue: this.pick(['0', '-9223372036854775808', '9223372036854775807', String(this.int(1e9))]) };
      case 3: return { doubleValue: this.pick([0, -0, 1.5, 1e308, -1e-308, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) };
      case 4: return { bytesValue: Buffer.from(this.str()).toString('base64') };
      case 5: return {};
      case 6: return { arrayValue: { values: Array.from({ length: 1 + this.int(3) }, () => this.anyValue(depth - 1)) } };
      default: return { kvlistValue: { values: Array.from({ length: 1 + this.int(3) }, () => ({ key: this.str(), value: this.anyValue(depth - 1) })) } };
    }
  }

  attrs(): Array<Record<string, unknown>> {
    const depth = this.chance(0.02) ? 40 : this.int(4);
    const out: Array<Record<string, unknown>> = Array.from({ length: this.int(6) }, () => ({ key: this.str(), value: this.anyValue(depth) }));
    if (this.chance(0.2)) {
      out.push({ key: 'gen_ai.request.model', value: { stringValue: this.pick(['gpt-4o', 'claude-3-5-sonnet', 'unknown-model']) } });
      out.push({ key: 'gen_ai.usage.input_tokens', value: { intValue: String(this.int(10_000)) } });
    }
    return out;
  }

  span(): Record<string, unknown> {
    const start = this.time();
    const end = this.chance(0.9) ? (BigInt(start) + BigInt(this.int(5_000)) * NS).toString() : this.time();
    return {
      traceId: this.traceId(),
      spanId: this.spanId(),
      ...(this.chance(0.3) ? { parentSpanId: this.hex(8) } : {}),
      name: this.chance(0.97) ? this.str() || 'op' : '',
      kind: this.int(7),
      startTimeUnixNano: start,
      endTimeUnixNano: end,
      attributes: this.attrs(),
      ...(this.chance(0.2) ? { events: [{ timeUnixNano: this.time(), name: this.str(), attributes: this.attrs() }] } : {}),
      ...(this.chance(0.1) ? { links: [{ traceId: this.hex(16), spanId: this.hex(8), attributes: this.attrs() }] } : {}),
      status: { code: this.int(3), ...(this.chance(0.2) ? { message: this.str() } : {}) },
    };
  }

  log(): Record<string, unknown> {
    return {
      timeUnixNano: this.chance(0.1) ? '0' : this.time(),
      observedTimeUnixNano: this.chance(0.5) ? '0' : this.time(),
      severityNumber: this.int(26),
      ...(this.chance(0.5) ? { severityText: this.pick(['INFO', 'warn', 'ERROR2', '', 'bogus']) } : {}),
      body: this.anyValue(this.int(3)),
      attributes: this.attrs(),
      ...(this.chance(0.5) ? { traceId: this.traceId(), spanId: this.spanId() } : {}),
    };
  }

  resource(): Record<string, unknown> {
    return { attributes: [{ key: 'service.name', value: { stringValue: this.pick(['checkout', 'ü-service', '', 'billing']) } }, ...this.attrs()] };
  }

  /** Corrupt a body: flip bytes, truncate, or prepend garbage. */
  corrupt(b: Buffer): Buffer {
    const out = Buffer.from(b);
    switch (this.int(3)) {
      case 0:
        for (let i = 0; i < 1 + this.int(8) && out.length > 0; i++) out[this.int(out.length)] = this.int(256);
        return out;
      case 1: return out.subarray(0, this.int(out.length + 1));
      default: return Buffer.concat([Buffer.from([this.int(256), this.int(256)]), out]);
    }
  }

  /** A corrupted body and the records it still decodes to. */
  corrupted(kind: 'traces' | 'logs', proto: boolean, body: Buffer): { body: Buffer; records: number } {
    const b = this.corrupt(body);
    return { body: b, records: countRecords(kind, proto, b) };
  }

  /** The next request. */
  next(): FuzzCase {
    const roll = this.r();
    if (roll < 0.6) {
      const spans = Array.from({ length: 1 + this.int(4) }, () => this.span());
      const json = { resourceSpans: [{ resource: this.resource(), scopeSpans: [{ scope: { name: this.str(), version: '1' }, spans }] }] };
      const proto = this.chance(0.6);
      const body = proto ? safeProtobuf(() => tracesProtobuf(json)) : Buffer.from(jsonWithSpecialDoubles(json));
      // A corrupted body may still decode, to other records: count what it holds.
      if (this.chance(0.05)) return { url: '/v1/traces', contentType: proto ? 'application/x-protobuf' : 'application/json', ...this.corrupted('traces', proto, body) };
      return { url: '/v1/traces', contentType: proto ? 'application/x-protobuf' : 'application/json', body, records: spans.length };
    }
    if (roll < 0.85) {
      const logs = Array.from({ length: 1 + this.int(4) }, () => this.log());
      const json = { resourceLogs: [{ resource: this.resource(), scopeLogs: [{ scope: { name: this.str() }, logRecords: logs }] }] };
      const proto = this.chance(0.6);
      const body = proto ? safeProtobuf(() => logsProtobuf(json)) : Buffer.from(jsonWithSpecialDoubles(json));
      if (this.chance(0.05)) return { url: '/v1/logs', contentType: proto ? 'application/x-protobuf' : 'application/json', ...this.corrupted('logs', proto, body) };
      return { url: '/v1/logs', contentType: proto ? 'application/x-protobuf' : 'application/json', body, records: logs.length };
    }
    const nowMs = Number(this.nowNs / NS);
    if (roll < 0.93) {
      const spans = Array.from({ length: 1 + this.int(3) }, () => ({
        trace_id: this.traceId(), span_id: this.spanId(), name: this.str() || 'op', service: this.pick(['svc', '', 'ü']),
        start_time: this.chance(0.9) ? nowMs - this.int(60_000) : this.pick([0, 1, 1e15, -5, '2300-01-01T00:00:00Z', 'not a time']),
        duration_ms: this.pick([0, 1, 250, 1e17, -1]),
        attributes: this.chance(0.5) ? { a: this.str(), n: this.int(100), nested: { deep: [1, 2, { x: null }] } } : {},
        ...(this.chance(0.2) ? { model: 'gpt-4o', input_tokens: this.int(1000), output_tokens: this.int(1000) } : {}),
        ...(this.chance(0.1) ? { started_at: 1 } : {}),
      }));
      return { url: '/api/v1/ingest/spans', contentType: 'application/json', body: Buffer.from(JSON.stringify(this.chance(0.05) ? { not: 'an array' } : spans)), records: spans.length };
    }
    const logs = Array.from({ length: 1 + this.int(3) }, () => ({
      time: this.chance(0.9) ? nowMs - this.int(60_000) : this.pick([0, 1e20, 'yesterday', '2106-02-08T00:00:00Z']),
      body: this.str(), service: this.pick(['svc', '']), severity: this.pick(['info', 'error', 'nope']),
      attributes: { k: this.str() },
    }));
    return { url: '/api/v1/ingest/logs', contentType: 'application/json', body: Buffer.from(JSON.stringify(logs)), records: logs.length };
  }
}

/** JSON where NaN/±Infinity doubles use the proto3 JSON spellings ("NaN", "Infinity", "-Infinity"). */
function jsonWithSpecialDoubles(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? (Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity') : x));
}

/** Protobuf encoding; fields protobufjs refuses (e.g. odd-length hex ids) make an undecodable body instead. */
function safeProtobuf(encode: () => Buffer): Buffer {
  try {
    return encode();
  } catch {
    const w = protobuf.Writer.create();
    w.uint32(10).bytes(Buffer.from([0xff, 0xff, 0xff]));
    return Buffer.from(w.finish());
  }
}
