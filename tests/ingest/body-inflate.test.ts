/**
 * readBody's two inflate paths (ingest/body.ts): compressed bodies up to
 * SYNC_INFLATE_MAX_WIRE_BYTES are inflated in one call, larger ones stream.
 * Both must give the same bytes, the same 413 for output over maxBodyBytes,
 * the same 400 for corrupt input, and charge (then allow release of) the
 * in-flight budget exactly.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InflightBudget, readBody, SYNC_INFLATE_MAX_WIRE_BYTES } from '../../ingest/body.js';

const MAX = 8 * 1024 * 1024;

/** The body as a request stream in 64 KiB pieces (as sockets deliver it). */
function stream(buf: Buffer): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += 65536) parts.push(buf.subarray(i, i + 65536));
  return Readable.from(parts, { objectMode: false });
}

async function read(buf: Buffer, encoding: string, max = MAX): Promise<{ body?: Buffer; err?: { code: string; message: string }; charged: number; budget: InflightBudget }> {
  const budget = new InflightBudget({ maxInflightBytes: 64 * 1024 * 1024, maxInflightRequests: 10 });
  budget.acquire(0);
  const charge = { charged: 0 };
  try {
    const body = await readBody(stream(buf), encoding, max, budget, charge);
    return { body, charged: charge.charged, budget };
  } catch (err) {
    return { err: err as { code: string; message: string }, charged: charge.charged, budget };
  }
}

const encoders: Record<string, (b: Buffer) => Buffer> = {
  gzip: (b) => zlib.gzipSync(b),
  'deflate (zlib)': (b) => zlib.deflateSync(b),
  'deflate (raw)': (b) => zlib.deflateRawSync(b),
};
const headerOf = (name: string): string => (name.startsWith('deflate') ? 'deflate' : 'gzip');

describe('readBody inflates small bodies at once and large ones streaming, with the same answers', () => {
  for (const [name, encode] of Object.entries(encoders)) {
    it(`${name}: a small and a large (> ${SYNC_INFLATE_MAX_WIRE_BYTES} wire bytes) body come back byte for byte; the budget holds wire + body bytes`, async () => {
      const small = randomBytes(100_000);
      const large = randomBytes(SYNC_INFLATE_MAX_WIRE_BYTES + 300_000); // random: the wire stays > the threshold
      for (const plain of [small, large]) {
        const wire = encode(plain);
        expect(wire.length > SYNC_INFLATE_MAX_WIRE_BYTES).toBe(plain === large);
        const r = await read(wire, headerOf(name));
        expect(r.err).toBeUndefined();
        expect(r.body!.equals(plain)).toBe(true);
        expect(r.charged).toBe(wire.length + plain.length);
        expect(r.budget.bytes).toBe(wire.length + plain.length);
        r.budget.release(r.charged);
        expect(r.budget.bytes).toBe(0);
      }
    });

    it(`${name}: output over maxBodyBytes is a 413 on both paths`, async () => {
      // Small wire: zeros compress ~1000×. Large wire: incompressible bytes past the threshold, then zeros past the limit.
      const bomb = encode(Buffer.alloc(MAX + 1));
      expect(bomb.length).toBeLessThan(SYNC_INFLATE_MAX_WIRE_BYTES);
      const big = encode(Buffer.concat([randomBytes(SYNC_INFLATE_MAX_WIRE_BYTES + 100_000), Buffer.alloc(MAX)]));
      expect(big.length).toBeGreaterThan(SYNC_INFLATE_MAX_WIRE_BYTES);
      expect(big.length).toBeLessThan(MAX);
      for (const wire of [bomb, big]) {
        const r = await read(wire, headerOf(name));
        expect(r.err?.code).toBe('VIGIL_ERR_PAYLOAD_TOO_LARGE');
        expect(r.err?.message).toMatch(/inflated body exceeds the limit/);
      }
    });

    it(`${name}: corrupt input is a 400 naming the encoding on both paths`, async () => {
      for (const size of [50_000, SYNC_INFLATE_MAX_WIRE_BYTES + 200_000]) {
        const wire = Buffer.from(encode(randomBytes(size)));
        wire.fill(0xab, 2, 64); // break the stream right after its header
        const r = await read(wire, headerOf(name));
        expect(r.err?.code).toBe('VIGIL_ERR_DECODE');
        expect(r.err?.message).toContain(`body is not valid ${headerOf(name)}`);
      }
    });
  }

  it('an empty deflate body is empty; one byte of deflate is a 400; an empty gzip body is a 400', async () => {
    expect((await read(Buffer.alloc(0), 'deflate')).body?.length).toBe(0);
    expect((await read(Buffer.from([0x78]), 'deflate')).err?.code).toBe('VIGIL_ERR_DECODE');
    expect((await read(Buffer.alloc(0), 'gzip')).err?.code).toBe('VIGIL_ERR_DECODE');
  });
});
