/**
 * Side measurement for bench/README.md: one-shot `zlib.gunzipSync` vs the
 * streaming `zlib.createGunzip()` that ingest/body.ts uses (default and larger
 * output chunks), and the one-shot async `zlib.gunzip`, on a 105 KB body
 * (synthetic, compressible). Run: `npx tsx bench/gunzip.ts`.
 */
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';

const raw = Buffer.alloc(105_642);
for (let i = 0; i < raw.length; i++) raw[i] = ((i * 7919) >> 5) & 0x3f;
const gz = zlib.gzipSync(raw);

const viaStream = (chunkSize?: number) => (): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const g = zlib.createGunzip(chunkSize === undefined ? {} : { chunkSize });
    g.on('data', (b: Buffer) => chunks.push(b));
    g.on('error', reject);
    g.on('end', () => resolve(Buffer.concat(chunks)));
    g.end(gz);
  });
const viaSync = async (): Promise<Buffer> => zlib.gunzipSync(gz);

const viaAsync = (): Promise<Buffer> =>
  new Promise((resolve, reject) => zlib.gunzip(gz, { maxOutputLength: 20 * 1024 * 1024 }, (err, out) => (err ? reject(err) : resolve(out))));

const cases = [
  ['gunzipSync', viaSync],
  ['gunzip (one-shot, async)', viaAsync],
  ['createGunzip stream', viaStream()],
  ['stream, 64 KiB chunks', viaStream(64 * 1024)],
  ['stream, 256 KiB chunks', viaStream(256 * 1024)],
] as const;
for (const [name, fn] of cases) {
  for (let i = 0; i < 300; i++) await fn();
  const rates: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t = performance.now();
    let n = 0;
    while (performance.now() - t < 1_000) {
      await fn();
      n++;
    }
    rates.push(n / ((performance.now() - t) / 1_000));
  }
  rates.sort((a, b) => a - b);
  process.stdout.write(`${name.padEnd(26)} median ${rates[2]!.toFixed(0)} bodies/s (min ${rates[0]!.toFixed(0)}, max ${rates[4]!.toFixed(0)})\n`);
}
