/**
 * kafkajs's GZIP codec with larger inflate steps.
 *
 * kafkajs inflates a fetched record batch with `zlib.unzip` at Node's
 * default 16 KiB `chunkSize`: the output grows 16 KiB per round trip
 * between the libuv thread and the event loop. Vigil's record batches
 * (OTLP requests, ~17× compressible) inflate to megabytes, so that was
 * hundreds of round trips per batch. With 256 KiB steps the same inflate
 * costs about a third of the CPU (`npx tsx bench/kafka-gzip.ts`,
 * bench/README.md "gzip in the Kafka consumer": 20 batches of 2.1 MB,
 * 245 → 77 ms CPU, event-loop time 116 → 39 ms). Compression uses zlib
 * level 1 ({@link GZIP_LEVEL}) instead of the default 6: on the bench's
 * 105 KB OTLP requests 220–230 µs instead of 470–730 µs of CPU per request
 * (2.2 vs 4.7–7.3 µs per span, on the producer's libuv threads) for 10 %
 * larger batches (ratio 18.2 vs 20.1) — the trade Kafka producers make with
 * LZ4 or low zstd levels. Larger steps made compression slower, so it keeps
 * zlib's default chunk size. Any gzip level inflates the same way.
 *
 * Compression runs synchronously (`zlib.gzipSync`) on the producer's thread.
 * The one-shot async `zlib.gzip` builds a Transform stream per call, and
 * that machinery cost more than the deflate it moved off the event loop: on
 * 317 KB batches (3 bench requests; `performance.eventLoopUtilization`, one
 * call at a time) 180–224 µs of event-loop time and 716–819 µs of process
 * CPU per call async, against 438–589 µs of both sync (bench/README.md,
 * "The typed-map copies dropped; intake keys"). Inflate stays async: a
 * fetched batch is megabytes, and 256 KiB steps keep its stream overhead
 * small.
 *
 * kafkajs keeps codecs in a process-wide registry (`CompressionCodecs`, the
 * hook its Snappy/LZ4/ZSTD plugins use); {@link installGzipCodec} replaces
 * the GZIP entry once and is idempotent. Inflated output is byte-identical.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
// kafkajs is CommonJS: Node's ESM loader does not see CompressionCodecs as a named export.
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/** Inflate step, bytes. */
export const INFLATE_CHUNK_BYTES = 256 * 1024;

/** zlib level of produced record batches (see module doc). */
export const GZIP_LEVEL = 1;

const unzip = promisify(zlib.unzip) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

/** The codec factory kafkajs calls (`CompressionCodecs[GZIP]`). */
export const gzipCodec = (): { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> } => ({
  compress: async (encoder) => zlib.gzipSync(encoder.buffer, { level: GZIP_LEVEL }),
  decompress: (buffer) => unzip(buffer, { chunkSize: INFLATE_CHUNK_BYTES }),
});

/** Register {@link gzipCodec} for CompressionTypes.GZIP (idempotent). */
export function installGzipCodec(): void {
  CompressionCodecs[CompressionTypes.GZIP] = gzipCodec;
}
