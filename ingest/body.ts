/**
 * Request body intake: size limits, streaming inflate (Content-Encoding gzip /
 * x-gzip, deflate), and the in-flight budget shared by all ingest routes
 * (OTLP/HTTP, native, and OTLP/gRPC, which admits its messages through the
 * same {@link InflightBudget}).
 *
 * `deflate` is the zlib format (RFC 1950, what HTTP means by it and what
 * the OTel Collector and Python exporters send); a body without a zlib header
 * is inflated as raw deflate (RFC 1951), which some clients send instead.
 * `zstd` is not accepted: Node 20's zlib has no zstd (it arrived in Node
 * 22.15 / 23.8), and Vigil supports Node 20 — 415 naming the encodings accepted.
 *
 * OTLP spec, "OTLP/HTTP Request": the server MUST limit the body size
 * including after decompression and SHOULD answer 413. Here the compressed
 * body and the inflated output are each capped at `maxBodyBytes`: a small
 * compressed body (≤ {@link SYNC_INFLATE_MAX_WIRE_BYTES}) is inflated in one
 * call with `maxOutputLength`, a larger one is streamed and aborted as soon as
 * the output passes the cap, so a gzip bomb never occupies more than
 * `maxBodyBytes` (+ one zlib chunk) of memory.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { OverloadedError, VigilError } from '../platform/errors.js';

/** Limits of {@link buildIngestApp}; sizes in bytes. */
export interface IngestLimits {
  /** Max body size, compressed and inflated (OTLP recommends 20 MiB). */
  maxBodyBytes: number;
  /** Max bytes of request bodies held at once across requests. */
  maxInflightBytes: number;
  /** Max requests being processed at once. */
  maxInflightRequests: number;
}

/** 413: body over the limit (compressed or inflated). */
export function tooLarge(limit: number, what: string): VigilError {
  return new VigilError('VIGIL_ERR_PAYLOAD_TOO_LARGE', `${what} exceeds the limit of ${limit} bytes; send smaller batches`);
}

/**
 * Bounded in-flight budget (requests and bytes), the admission point of every
 * ingest route (OTLP/HTTP, native, OTLP/gRPC). `acquire` and `addBytes` throw
 * OverloadedError (429, Retry-After 1 s) instead of exceeding a bound, and
 * `acquire` also refuses while the optional pressure check says so; every
 * grant is returned with `release`.
 */
export class InflightBudget {
  requests = 0;
  bytes = 0;
  /**
   * @param limits the bounds.
   * @param pressure checked before each admission: an error to refuse the
   *   request with (e.g. storage behind intake, platform/storage-backlog.ts), or undefined.
   */
  constructor(
    private readonly limits: Pick<IngestLimits, 'maxInflightBytes' | 'maxInflightRequests'>,
    private readonly pressure?: () => VigilError | undefined,
  ) {}

  /** Admit one request that declares `bytes` (Content-Length, 0 when unknown). */
  acquire(bytes: number): void {
    const refused = this.pressure?.();
    if (refused !== undefined) throw refused;
    if (this.requests + 1 > this.limits.maxInflightRequests) {
      throw new OverloadedError(`too many requests in flight (limit ${this.limits.maxInflightRequests}); retry later`);
    }
    this.checkBytes(bytes);
    this.requests++;
    this.bytes += bytes;
  }

  /** Grow an admitted request's share by `bytes` (body read or inflated beyond what was declared). */
  addBytes(bytes: number): void {
    this.checkBytes(bytes);
    this.bytes += bytes;
  }

  release(bytes: number): void {
    this.requests--;
    this.bytes -= bytes;
  }

  private checkBytes(bytes: number): void {
    // A lone request may always use its own maxBodyBytes, otherwise a budget smaller than one body would wedge.
    if (this.bytes > 0 && this.bytes + bytes > this.limits.maxInflightBytes) {
      throw new OverloadedError(`too many request bytes in flight (limit ${this.limits.maxInflightBytes}); retry later`);
    }
  }
}

/**
 * Compressed bodies up to this many wire bytes are inflated in one
 * synchronous call once complete (`zlib.gunzipSync` with `maxOutputLength`);
 * larger ones stream through a zlib inflater. Measured (bench/gunzip.ts,
 * bench/README.md): a streaming inflate pays a libuv thread-pool round trip
 * per output chunk, ~5× the CPU of one call on a 105 KB OTLP body, and made
 * gzip cost 40–50 % of the HTTP path. One call blocks the event loop for at
 * most what inflating `maxBodyBytes` takes (~10–20 ms for 20 MiB), and since
 * calls run one at a time the transient output beyond the budget is at most
 * one body.
 */
export const SYNC_INFLATE_MAX_WIRE_BYTES = 1024 * 1024;
/** Output chunk of streaming inflaters (zlib's default 16 KiB costs a thread-pool trip per 16 KiB). */
const INFLATE_CHUNK_BYTES = 64 * 1024;

/** Per-request accounting handle: bytes charged so far against the budget. */
export interface BodyCharge {
  charged: number;
}

/** True when `b` starts with a zlib header (RFC 1950: CM = 8, header checksum). */
function zlibHeader(b: Buffer): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && (b[0]! >> 4) <= 7 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

/**
 * Read a request body into one Buffer, inflating gzip or deflate as it streams.
 * @param raw the request stream (Fastify content-type parser payload).
 * @param encoding Content-Encoding header value (undefined / 'identity' / 'gzip' / 'x-gzip' / 'deflate').
 * @param charge bytes already charged for this request; grown via `budget.addBytes`.
 * @returns the (inflated) body.
 * @throws VigilError 413 VIGIL_ERR_PAYLOAD_TOO_LARGE over `maxBodyBytes`;
 *   415 VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE for another Content-Encoding;
 *   400 VIGIL_ERR_DECODE for a corrupt gzip / deflate stream; 429 from the budget.
 */
export async function readBody(
  raw: IncomingMessage | Readable,
  encoding: string | undefined,
  maxBodyBytes: number,
  budget: InflightBudget,
  charge: BodyCharge,
): Promise<Buffer> {
  const enc = (encoding ?? 'identity').trim().toLowerCase();
  if (enc !== 'identity' && enc !== 'gzip' && enc !== 'x-gzip' && enc !== 'deflate' && enc !== '') {
    raw.resume();
    throw new VigilError(
      'VIGIL_ERR_UNSUPPORTED_MEDIA_TYPE',
      `Content-Encoding '${enc}' is not supported; use gzip, deflate or identity${enc === 'zstd' ? ' (zstd needs a newer Node than Vigil supports)' : ''}`,
    );
  }
  const gzip = enc === 'gzip' || enc === 'x-gzip';
  const deflate = enc === 'deflate';
  const compressed = gzip || deflate;
  const what = gzip ? 'gzip' : 'deflate';
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0; // wire bytes
    let produced = 0; // body bytes after inflate
    let done = false;
    // Compressed bytes held until the body ends (inflated in one call) or
    // passes SYNC_INFLATE_MAX_WIRE_BYTES (then handed to a streaming inflater).
    const wire: Buffer[] = [];
    let inflater: zlib.Gunzip | zlib.Inflate | zlib.InflateRaw | null = null;

    const fail = (err: unknown): void => {
      if (done) return;
      done = true;
      raw.removeListener('data', onWire);
      raw.resume(); // drain the rest so the socket can answer
      inflater?.destroy();
      reject(err);
    };
    const charged = (total: number): void => {
      if (total > charge.charged) {
        budget.addBytes(total - charge.charged);
        charge.charged = total;
      }
    };
    const onBody = (chunk: Buffer): void => {
      if (done) return;
      produced += chunk.length;
      if (produced > maxBodyBytes) return fail(tooLarge(maxBodyBytes, compressed ? 'inflated body' : 'body'));
      try {
        charged(compressed ? received + produced : produced);
      } catch (err) {
        return fail(err);
      }
      chunks.push(chunk);
    };
    const finish = (): void => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks, produced));
    };
    const invalid = (err: Error): VigilError => new VigilError('VIGIL_ERR_DECODE', `body is not valid ${what}: ${err.message}`, { cause: err });
    /** Large compressed body: inflate as it streams, charging the output as it grows. */
    const startStreaming = (): void => {
      const head = Buffer.concat(wire);
      wire.length = 0;
      const opts = { chunkSize: INFLATE_CHUNK_BYTES };
      const inf = gzip ? zlib.createGunzip(opts) : zlibHeader(head) ? zlib.createInflate(opts) : zlib.createInflateRaw(opts);
      inflater = inf;
      inf.on('data', onBody);
      inf.on('error', (err) => fail(invalid(err)));
      inf.on('end', finish);
      inf.write(head);
    };
    /** Small compressed body, complete: one synchronous inflate capped at maxBodyBytes. */
    const inflateAtOnce = (): void => {
      const body = Buffer.concat(wire, received);
      wire.length = 0;
      // deflate: nothing → an empty body; 1 byte → not a deflate stream (gzip: zlib says why).
      if (deflate && body.length === 0) return finish();
      if (deflate && body.length < 2) return fail(new VigilError('VIGIL_ERR_DECODE', 'body is not valid deflate: truncated'));
      let out: Buffer;
      try {
        const opts = { maxOutputLength: maxBodyBytes };
        out = gzip ? zlib.gunzipSync(body, opts) : zlibHeader(body) ? zlib.inflateSync(body, opts) : zlib.inflateRawSync(body, opts);
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return fail(tooLarge(maxBodyBytes, 'inflated body'));
        return fail(invalid(err as Error));
      }
      onBody(out);
      finish();
    };
    const onWire = (chunk: Buffer): void => {
      if (done) return;
      received += chunk.length;
      if (received > maxBodyBytes) return fail(tooLarge(maxBodyBytes, 'body'));
      if (!compressed) return onBody(chunk);
      if (inflater !== null) {
        inflater.write(chunk);
        return;
      }
      try {
        charged(received);
      } catch (err) {
        return fail(err);
      }
      wire.push(chunk);
      if (received > SYNC_INFLATE_MAX_WIRE_BYTES) startStreaming();
    };

    let ended = false;
    raw.on('data', onWire);
    raw.on('error', fail);
    raw.on('end', () => {
      ended = true;
      if (done) return;
      if (!compressed) return finish();
      if (inflater !== null) inflater.end();
      else inflateAtOnce();
    });
    // A client that goes away mid-body: settle instead of waiting forever.
    raw.on('close', () => {
      if (!ended) fail(new VigilError('VIGIL_ERR_BAD_REQUEST', 'client closed the connection before the body was complete'));
    });
  });
}
