/**
 * Piscina pool running processors/worker.ts in worker threads.
 *
 * The worker file is picked next to this module by the current module's
 * extension: built package → `worker.js`; TypeScript source (vitest, tsx) →
 * `worker.ts`, loaded in the worker thread through `execArgv: ['--import', 'tsx']`
 * (piscina 5 `execArgv` option, passed to each `new Worker`).
 *
 * Back-pressure: at most `maxQueue` batches wait for a thread; `run` rejects
 * with VIGIL_ERR_OVERLOADED beyond that (piscina's "Task queue is at limit").
 *
 * Large batches use every thread: `runEncoded` cuts a batch of at least
 * `splitBytes` of message values into up to `threads` contiguous chunks of
 * about equal bytes (whole messages), runs them at once and joins the results
 * in order (a Native stream is a sequence of blocks, JSONEachRow a sequence
 * of lines). So one big sub-batch — one insert per table — is not limited to
 * one thread, and the consumer can insert fewer, larger blocks. The cut is a
 * pure function of the batch, so a replayed sub-batch gives the same rows.
 */
import { Piscina } from 'piscina';
import { OverloadedError, VigilError } from '../platform/errors.js';
import type { BatchOptions, EncodedBody, EncodedResult, WorkerItem, WorkerResult, WorkerTask } from './worker.js';
import type { ProcessorTable } from './writer.js';
import { removeSpoolFiles, type NativeFilesBody } from '../platform/clickhouse.js';

/** The processor pool. */
export interface WorkerPool {
  /** Normalise a batch in a worker thread. @throws VigilError VIGIL_ERR_OVERLOADED when the queue is full. */
  run(batch: readonly WorkerItem[]): Promise<WorkerResult>;
  /**
   * Normalise a batch and encode its rows per table (processors/worker.ts
   * `processBatchEncoded`: spans and logs as Native — bytes, or files in
   * `PoolOptions.spoolDir`, which the caller removes with removeSpoolFiles —
   * aggregates as JSONEachRow), on every thread for a batch of at least
   * `splitBytes` (see module doc). Same errors as run(); VIGIL_ERR_INTERNAL
   * when a worker fails.
   */
  runEncoded(batch: readonly WorkerItem[], opts?: BatchOptions): Promise<EncodedResult>;
  /** Finish queued and running batches, then stop the threads. */
  close(): Promise<void>;
  /** Batches waiting for a thread. */
  readonly queueSize: number;
}

/** Options of {@link createWorkerPool}. */
export interface PoolOptions {
  /** Worker threads (config `processors.threads`). */
  threads: number;
  /** Most batches queued beyond the running ones (default threads × 4). */
  maxQueue?: number;
  /** Least message bytes of a batch that `runEncoded` splits across threads (default 1 MiB). */
  splitBytes?: number;
  /**
   * Directory where the workers write Native insert bodies (BatchOptions.spoolDir;
   * the chDB handle's `spoolDir`). Unset: bodies come back as bytes. The
   * caller of `runEncoded` owns the files ({@link removeSpoolFiles}).
   */
  spoolDir?: string;
}

/** Bytes of one item's message value (an estimate of 1 KiB for an already parsed envelope). */
function itemBytes(item: WorkerItem): number {
  if (typeof item === 'string') return item.length;
  if ('raw' in item && 'meta' in item) return item.raw.byteLength;
  if ('offset' in item && 'value' in item) return typeof item.value === 'string' ? item.value.length : 1024;
  return 1024;
}

/**
 * Cut `items` into at most `parts` contiguous chunks of about equal bytes
 * (each at least one message). Items must carry their offsets (Kafka
 * messages): a chunk's rejections then name the right message.
 * @param parts most chunks (the pool's threads).
 * @param minBytes least total message bytes worth splitting.
 * @returns the chunks in order; `[items]` when there is nothing to split.
 */
export function splitBatch(items: readonly WorkerItem[], parts: number, minBytes: number): WorkerItem[][] {
  const sizes = items.map(itemBytes);
  const total = sizes.reduce((a, b) => a + b, 0);
  const n = Math.min(parts, items.length);
  if (n <= 1 || total < minBytes || !items.every((i) => typeof i === 'object' && i !== null && 'offset' in i)) return [items.slice()];
  const out: WorkerItem[][] = [];
  let cur: WorkerItem[] = [];
  let acc = 0;
  for (let i = 0; i < items.length; i++) {
    cur.push(items[i]!);
    acc += sizes[i]!;
    // Close the chunk at its share of the bytes, leaving one message per remaining chunk.
    if (out.length < n - 1 && acc >= (total * (out.length + 1)) / n && items.length - i - 1 >= n - 1 - out.length) {
      out.push(cur);
      cur = [];
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/**
 * Join the encoded results of consecutive chunks of one batch: Native blocks
 * one after another, JSONEachRow text appended, counts summed, rejections in
 * order. Null when a table's bodies differ in format (a chunk fell back to
 * JSONEachRow): the caller then encodes the batch whole.
 */
export function joinEncoded(parts: readonly EncodedResult[]): EncodedResult | null {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const bodies = {} as Record<ProcessorTable, EncodedBody>;
  const counts = {} as Record<ProcessorTable, number>;
  for (const table of Object.keys(first.bodies) as ProcessorTable[]) {
    counts[table] = parts.reduce((n, p) => n + p.counts[table], 0);
    // Chunks without rows for this table add nothing (and may carry an empty body of another format).
    const list = parts.filter((p) => p.counts[table] > 0).map((p) => p.bodies[table]);
    const f = list[0];
    if (f === undefined) {
      bodies[table] = first.bodies[table];
      continue;
    }
    if (list.some((b) => b.format !== f.format)) return null;
    if (f.format === 'Native') {
      const blocks: Uint8Array[] = [];
      for (const b of list as Array<Extract<EncodedBody, { format: 'Native' }>>) blocks.push(...(Array.isArray(b.data) ? b.data : [b.data as Uint8Array]));
      bodies[table] = { format: 'Native', data: blocks, columns: f.columns };
    } else if (f.format === 'NativeFiles') {
      const files = list as NativeFilesBody[];
      bodies[table] = { format: 'NativeFiles', paths: files.flatMap((b) => b.paths), columns: f.columns, bytes: files.reduce((n, b) => n + b.bytes, 0) };
    } else {
      bodies[table] = { format: 'JSONEachRow', data: (list as Array<Extract<EncodedBody, { format: 'JSONEachRow' }>>).map((b) => (typeof b.data === 'string' ? b.data : Buffer.from(b.data).toString('utf8'))).join('') };
    }
  }
  return { bodies, counts, rejected: parts.flatMap((p) => p.rejected) };
}

/**
 * The task with each raw message body copied into a buffer of its own, and
 * those buffers to transfer: the worker receives them without another copy,
 * and the event loop's copies are released at once (a body is a view into a
 * fetched Kafka batch, which must not be cloned whole; the caller's items
 * stay intact, so a bisection can run them again).
 */
function transferable(task: WorkerTask): [WorkerTask, ArrayBuffer[]] {
  const items = Array.isArray(task) ? (task as readonly WorkerItem[]) : (task as { items: readonly WorkerItem[] }).items;
  const transfer: ArrayBuffer[] = [];
  const copied = items.map((i) => {
    if (typeof i !== 'object' || i === null || !('raw' in i) || !('meta' in i)) return i;
    const raw = new Uint8Array(i.raw);
    transfer.push(raw.buffer);
    return { ...i, raw };
  });
  if (transfer.length === 0) return [task, transfer];
  return [Array.isArray(task) ? copied : { ...(task as { opts: BatchOptions }), items: copied }, transfer];
}

/** URL of the worker module matching how this module was loaded (.js built, .ts source). */
export function workerUrl(): { url: URL; execArgv: string[] } {
  const isTs = new URL(import.meta.url).pathname.endsWith('.ts');
  return isTs
    ? { url: new URL('./worker.ts', import.meta.url), execArgv: ['--import', 'tsx'] }
    : { url: new URL('./worker.js', import.meta.url), execArgv: [] };
}

/**
 * Create the pool.
 * @throws VigilError VIGIL_ERR_CONFIG when threads < 1.
 */
export function createWorkerPool(opts: PoolOptions): WorkerPool {
  if (!Number.isInteger(opts.threads) || opts.threads < 1) {
    throw new VigilError('VIGIL_ERR_CONFIG', `processors.threads must be a positive integer, got ${opts.threads}`);
  }
  const { url, execArgv } = workerUrl();
  const piscina = new Piscina<WorkerTask, WorkerResult | EncodedResult>({
    filename: url.href,
    minThreads: opts.threads,
    maxThreads: opts.threads,
    maxQueue: opts.maxQueue ?? opts.threads * 4,
    execArgv,
  });
  let closed = false;
  const splitBytes = opts.splitBytes ?? 1024 * 1024;
  const encoded = (batch: readonly WorkerItem[], o?: BatchOptions): Promise<EncodedResult> => {
    const withSpool = opts.spoolDir === undefined ? o : { ...o, spoolDir: opts.spoolDir };
    return call(withSpool === undefined ? batch : { items: batch, opts: withSpool }, 'runEncoded') as Promise<EncodedResult>;
  };
  return {
    run: (batch) => call(batch, 'default') as Promise<WorkerResult>,
    async runEncoded(batch, o) {
      const chunks = splitBatch(batch, opts.threads, splitBytes);
      if (chunks.length === 1) return encoded(batch, o);
      const settled = await Promise.allSettled(chunks.map((c) => encoded(c, o)));
      const parts = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
      const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      const joined = failed === undefined ? joinEncoded(parts) : null;
      if (joined !== null) return joined;
      await Promise.all(parts.map((p) => removeSpoolFiles(p.bodies)));
      if (failed !== undefined) throw failed.reason;
      return encoded(batch, o);
    },
    async close() {
      if (closed) return;
      closed = true;
      await piscina.close();
    },
    get queueSize() {
      return piscina.queueSize;
    },
  };

  /** Run the worker's export `name` on `batch`, mapping Piscina's errors to Vigil's. */
  async function call(batch: WorkerTask, name: string): Promise<WorkerResult | EncodedResult> {
      if (closed) throw new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'processor pool is closed');
      try {
        const [task, transferList] = transferable(batch);
        return await piscina.run(task, { name, transferList });
      } catch (err) {
        if (err instanceof Error && /queue is at limit/i.test(err.message)) {
          throw new OverloadedError(`processor queue is full (${piscina.queueSize} batches waiting)`);
        }
        throw new VigilError('VIGIL_ERR_INTERNAL', 'processor worker failed', { cause: err });
      }
  }
}
