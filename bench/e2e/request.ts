/**
 * The OTLP request bench:e2e replays, and a cheap way to make each copy unique.
 *
 * {@link makeTemplate} builds the same request as bench/ingest.ts (10 traces ×
 * 10 spans made by the OpenTelemetry SDK, ~20 attributes per span, every third
 * child an LLM call with 10 gen_ai.* attributes, one event per trace; protobuf
 * from `ProtobufTraceSerializer`, what the OTLP exporters send). The builder is
 * bench/workload.ts (shared with bench/ingest.ts; that file runs its
 * benchmark when imported); keep the two in step.
 *
 * The encoded body is then walked once to find the byte offsets of every
 * trace id, span id, parent span id and timestamp; {@link RequestFactory.next}
 * copies the body (~105 KB memcpy) and overwrites those fixed-size fields in
 * place — fresh ids and current times per request without re-encoding.
 */
import { randomBytes } from 'node:crypto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { makeSpans, SPANS_PER_REQUEST, TRACES_PER_REQUEST } from '../workload.js';

export { SPANS_PER_REQUEST, SPANS_PER_TRACE, TRACES_PER_REQUEST } from '../workload.js';

// ------------------------------------------------------------------ protobuf walk

/** Offsets of the fixed-size fields of an encoded ExportTraceServiceRequest. */
export interface Template {
  body: Buffer;
  /** Byte offsets of trace ids (16 B), by trace index (0 … traces-1). */
  traceIds: { offset: number; trace: number }[];
  /** Byte offsets of span ids and non-empty parent span ids (8 B), by span index. */
  spanIds: { offset: number; span: number }[];
  /** Byte offsets of fixed64 times (span start/end, event time) and their original values (ns). */
  times: { offset: number; ns: bigint }[];
  /** Latest time in the template (ns): shifted to "now" on each copy. */
  maxNs: bigint;
  traces: number;
  spans: number;
}

function varint(buf: Buffer, pos: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = buf[pos++]!;
    result += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7;
  }
}

/** Call `onField(field, wireType, start, end)` for each field of the message in buf[start, end). */
function walk(buf: Buffer, start: number, end: number, onField: (field: number, wire: number, from: number, to: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, p1] = varint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let from = p1;
    let to: number;
    if (wire === 0) to = varint(buf, p1)[1];
    else if (wire === 1) to = p1 + 8;
    else if (wire === 5) to = p1 + 4;
    else if (wire === 2) {
      const [len, p2] = varint(buf, p1);
      from = p2;
      to = p2 + len;
    } else throw new Error(`unsupported protobuf wire type ${wire} at ${pos}`);
    onField(field, wire, from, to);
    pos = to;
  }
  if (pos !== end) throw new Error('protobuf walk overran its message');
}

/** Walk an encoded ExportTraceServiceRequest (resource_spans=1 → scope_spans=2 → spans=2; events=11). */
export function parseTemplate(body: Buffer): Template {
  const traceIndex = new Map<string, number>();
  const spanIndex = new Map<string, number>();
  const traceIds: Template['traceIds'] = [];
  const spanIds: Template['spanIds'] = [];
  const parents: { offset: number; id: string }[] = [];
  const times: Template['times'] = [];
  const time = (off: number): void => {
    times.push({ offset: off, ns: body.readBigUInt64LE(off) });
  };
  walk(body, 0, body.length, (f, w, a, b) => {
    if (f !== 1 || w !== 2) return; // resource_spans
    walk(body, a, b, (f2, w2, a2, b2) => {
      if (f2 !== 2 || w2 !== 2) return; // scope_spans
      walk(body, a2, b2, (f3, w3, a3, b3) => {
        if (f3 !== 2 || w3 !== 2) return; // span
        walk(body, a3, b3, (f4, w4, a4, b4) => {
          if (f4 === 1 && w4 === 2 && b4 - a4 === 16) {
            const id = body.toString('hex', a4, b4);
            if (!traceIndex.has(id)) traceIndex.set(id, traceIndex.size);
            traceIds.push({ offset: a4, trace: traceIndex.get(id)! });
          } else if (f4 === 2 && w4 === 2 && b4 - a4 === 8) {
            const id = body.toString('hex', a4, b4);
            spanIndex.set(id, spanIndex.size);
            spanIds.push({ offset: a4, span: spanIndex.get(id)! });
          } else if (f4 === 4 && w4 === 2 && b4 - a4 === 8) {
            parents.push({ offset: a4, id: body.toString('hex', a4, b4) });
          } else if ((f4 === 7 || f4 === 8) && w4 === 1) {
            time(a4);
          } else if (f4 === 11 && w4 === 2) {
            walk(body, a4, b4, (f5, w5, a5) => {
              if (f5 === 1 && w5 === 1) time(a5); // event time_unix_nano
            });
          }
        });
      });
    });
  });
  for (const p of parents) {
    const span = spanIndex.get(p.id);
    if (span === undefined) throw new Error(`parent span ${p.id} is not in the request`);
    spanIds.push({ offset: p.offset, span });
  }
  if (traceIndex.size === 0 || spanIndex.size === 0) throw new Error('no spans found in the template');
  const maxNs = times.reduce((m, t) => (t.ns > m ? t.ns : m), 0n);
  return { body, traceIds, spanIds, times, maxNs, traces: traceIndex.size, spans: spanIndex.size };
}

/** The template request of bench/ingest.ts, encoded as OTLP protobuf and walked. */
export function makeTemplate(): Template {
  const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(makeSpans())!);
  const t = parseTemplate(body);
  if (t.spans !== SPANS_PER_REQUEST || t.traces !== TRACES_PER_REQUEST) throw new Error(`template: ${t.traces} traces, ${t.spans} spans`);
  return t;
}

// ------------------------------------------------------------------ unique copies

/** Makes unique copies of a template: {@link next} returns a fresh body and the hex id of its first trace. */
export class RequestFactory {
  /** 6 random bytes per factory + 2 bytes of `instance`: trace ids differ between runs and generators. */
  private readonly prefix: Buffer;
  private seq = 0;
  constructor(
    private readonly t: Template,
    instance = 0,
  ) {
    this.prefix = Buffer.concat([randomBytes(6), Buffer.from([(instance >> 8) & 0xff, instance & 0xff])]);
  }

  /**
   * A copy of the template with trace ids `prefix(8) | seq(4) | trace(4)`, span
   * ids `seq(4) | span+1 (4)` (never zero) and every time shifted so that the
   * latest one is `nowMs`.
   */
  next(nowMs = Date.now()): { body: Buffer; firstTraceId: string } {
    const seq = this.seq++ >>> 0;
    const body = Buffer.allocUnsafe(this.t.body.length);
    this.t.body.copy(body);
    for (const { offset, trace } of this.t.traceIds) {
      this.prefix.copy(body, offset);
      body.writeUInt32BE(seq, offset + 8);
      body.writeUInt32BE(trace, offset + 12);
    }
    for (const { offset, span } of this.t.spanIds) {
      body.writeUInt32BE(seq, offset);
      body.writeUInt32BE(span + 1, offset + 4);
    }
    const delta = BigInt(nowMs) * 1_000_000n - this.t.maxNs;
    for (const { offset, ns } of this.t.times) body.writeBigUInt64LE(ns + delta, offset);
    const first = Buffer.allocUnsafe(16);
    this.prefix.copy(first, 0);
    first.writeUInt32BE(seq, 8);
    first.writeUInt32BE(0, 12);
    return { body, firstTraceId: first.toString('hex') };
  }
}
