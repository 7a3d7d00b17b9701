/**
 * Vigil's kafkajs GZIP codec (larger inflate steps, issue 6): installed by
 * createKafka, byte-identical round trip of a multi-megabyte record batch,
 * and still readable by plain zlib (what the broker and other clients see).
 */
import zlib from 'node:zlib';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/client.js';
import { gzipCodec } from '../../platform/kafka/gzip-codec.js';
import { createLogger } from '../../platform/logger.js';
import { mulberry32 } from '../support/prng.js';

describe('kafkajs GZIP codec', () => {
  it('is installed by createKafka and round-trips a 3 MB batch byte for byte', async () => {
    createKafka({ brokers: ['127.0.0.1:1'], clientId: 'codec-test', log: createLogger('silent') });
    expect(CompressionCodecs[CompressionTypes.GZIP]).toBe(gzipCodec);
    const r = mulberry32(7);
    // Compressible like OTLP (repeated keys) with random values in between.
    const parts: string[] = [];
    for (let size = 0; size < 3_000_000; ) {
      const line = `{"http.route":"/cart/${Math.floor(r() * 1e6)}","service.name":"checkout"}`;
      parts.push(line);
      size += line.length + 1;
    }
    const batch = Buffer.from(parts.join('\n'));
    const codec = CompressionCodecs[CompressionTypes.GZIP]() as { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
    const compressed = await codec.compress({ buffer: batch });
    expect(zlib.gunzipSync(compressed).equals(batch)).toBe(true);
    expect((await codec.decompress(compressed)).equals(batch)).toBe(true);
    expect((await codec.decompress(zlib.gzipSync(batch, { level: 9 }))).equals(batch)).toBe(true);
  });
});
