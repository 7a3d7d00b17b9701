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
 */
import { Piscina } from 'piscina';
import { OverloadedError, VigilError } from '../platform/errors.js';
import type { BatchOptions, EncodedResult, WorkerItem, WorkerResult, WorkerTask } from './worker.js';

/** The processor pool. */
export interface WorkerPool {
  /** Normalise a batch in a worker thread. @throws VigilError VIGIL_ERR_OVERLOADED when the queue is full. */
  run(batch: readonly WorkerItem[]): Promise<WorkerResult>;
  /** Normalise a batch and encode its rows as JSONEachRow per table, in a worker thread. Same errors as run(). */
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
  return {
    run: (batch) => call(batch, 'default') as Promise<WorkerResult>,
    runEncoded: (batch, opts) => call(opts === undefined ? batch : { items: batch, opts }, 'runEncoded') as Promise<EncodedResult>,
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
        return await piscina.run(batch, { name });
      } catch (err) {
        if (err instanceof Error && /queue is at limit/i.test(err.message)) {
          throw new OverloadedError(`processor queue is full (${piscina.queueSize} batches waiting)`);
        }
        throw new VigilError('VIGIL_ERR_INTERNAL', 'processor worker failed', { cause: err });
      }
  }
}
