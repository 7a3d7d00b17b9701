/**
 * Side measurement for bench/README.md ("gzip in the Kafka consumer"):
 * inflating a fetched Kafka record batch of Vigil's messages the way kafkajs
 * does (`zlib.unzip`, one-shot async) at Node's default 16 KiB output steps
 * and at the 256 KiB steps of platform/kafka/gzip-codec.ts, and compressing
 * single messages at both (compression is left at the default).
 *
 *   npx tsx bench/kafka-gzip.ts
 *
 * Method: 20 of the bench's OTLP requests (bench/e2e/request.ts, 105,642 B
 * each, fresh ids) concatenated into one 2.1 MB batch, gzip-compressed once;
 * 20 inflates of it per round, 200 single-message compressions per round, 3
 * rounds per setting, interleaved. Reported: process CPU (user + system: the
 * libuv thread doing the work and the event loop handling each step) and the
 * event loop's active time (`performance.eventLoopUtilization`), in ms per
 * round; medians.
 */
import { performance } from 'node:perf_hooks';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { makeTemplate, RequestFactory } from './e2e/request.js';

const gzip = promisify(zlib.gzip) as (b: Buffer, o?: zlib.ZlibOptions) => Promise<Buffer>;
const unzip = promisify(zlib.unzip) as (b: Buffer, o?: zlib.ZlibOptions) => Promise<Buffer>;
const factory = new RequestFactory(makeTemplate());
const bodies = Array.from({ length: 20 }, () => Buffer.from(factory.next().body));
const batch = zlib.gzipSync(Buffer.concat(bodies));

const settings = [['default (16 KiB)', undefined], ['256 KiB', 256 * 1024]] as const;
const results = new Map<string, { inflateCpu: number[]; inflateLoop: number[]; deflateCpu: number[]; deflateLoop: number[] }>();
for (let round = 0; round < 3; round++) {
  for (const [name, chunkSize] of settings) {
    const opts = chunkSize === undefined ? undefined : { chunkSize };
    const r = results.get(name) ?? { inflateCpu: [], inflateLoop: [], deflateCpu: [], deflateLoop: [] };
    let e0 = performance.eventLoopUtilization();
    let c0 = process.cpuUsage();
    for (let i = 0; i < 20; i++) await unzip(batch, opts);
    let c = process.cpuUsage(c0);
    r.inflateCpu.push((c.user + c.system) / 1000);
    r.inflateLoop.push(performance.eventLoopUtilization(e0).active);
    e0 = performance.eventLoopUtilization();
    c0 = process.cpuUsage();
    for (let i = 0; i < 10; i++) for (const b of bodies) await gzip(b, opts);
    c = process.cpuUsage(c0);
    r.deflateCpu.push((c.user + c.system) / 1000);
    r.deflateLoop.push(performance.eventLoopUtilization(e0).active);
    results.set(name, r);
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(`batch ${batch.length} B compressed, ${bodies.length * 105_642} B inflated\n\n`);
process.stdout.write('| output steps | inflate 20 batches: CPU ms | event loop ms | compress 200 messages: CPU ms | event loop ms |\n|---|---|---|---|---|\n');
for (const [name] of settings) {
  const r = results.get(name)!;
  process.stdout.write(`| ${name} | ${median(r.inflateCpu).toFixed(0)} | ${median(r.inflateLoop).toFixed(0)} | ${median(r.deflateCpu).toFixed(0)} | ${median(r.deflateLoop).toFixed(0)} |\n`);
}
