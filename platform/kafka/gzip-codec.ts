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
 * 245 → 77 ms CPU, event-loop time 116 → 39 ms). Compression is unchanged
 * (kafkajs's `zlib.gzip`, default steps): larger steps made it slower.
 *
 * kafkajs keeps codecs in a process-wide registry (`CompressionCodecs`, the
 * hook its Snappy/LZ4/ZSTD plugins use); {@link installGzipCodec} replaces
 * the GZIP entry once and is idempotent. Output is byte-identical.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
// kafkajs is CommonJS: Node's ESM loader does not see CompressionCodecs as a named export.
import kafkajs from 'kafkajs';

const { CompressionCodecs, CompressionTypes } = kafkajs;

/** Inflate step, bytes. */
export const INFLATE_CHUNK_BYTES = 256 * 1024;

const gzip = promisify(zlib.gzip) as (buf: Buffer) => Promise<Buffer>;
const unzip = promisify(zlib.unzip) as (buf: Buffer, opts: zlib.ZlibOptions) => Promise<Buffer>;

/** The codec factory kafkajs calls (`CompressionCodecs[GZIP]`). */
export const gzipCodec = (): { compress(encoder: { buffer: Buffer }): Promise<Buffer>; decompress(buffer: Buffer): Promise<Buffer> } => ({
  compress: (encoder) => gzip(encoder.buffer),
  decompress: (buffer) => unzip(buffer, { chunkSize: INFLATE_CHUNK_BYTES }),
});

/** Register {@link gzipCodec} for CompressionTypes.GZIP (idempotent). */
export function installGzipCodec(): void {
  CompressionCodecs[CompressionTypes.GZIP] = gzipCodec;
}
