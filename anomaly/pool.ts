/**
 * The anomaly scoring pool: a small Piscina pool of its own (separate from the
 * processors' pool, so scoring never queues behind span batches) running
 * ./worker.ts. The worker file is picked next to this module: `worker.js`
 * when built, `worker.ts` through `--import tsx` from sources (vitest, tsx),
 * as processors/pool.ts does.
 */
import { Piscina } from 'piscina';
import { VigilError } from '../platform/errors.js';
import type { BatchResult, BatchTask } from './worker.js';

export interface AnomalyPool {
  /** Score a batch in a worker thread. @throws VigilError VIGIL_ERR_SHUTTING_DOWN after close(), VIGIL_ERR_INTERNAL when the worker fails. */
  run(task: BatchTask): Promise<BatchResult>;
  /** Finish running batches, stop the threads. */
  close(): Promise<void>;
}

/**
 * Create the pool.
 * @param threads worker threads (≥ 1).
 * @throws VigilError VIGIL_ERR_CONFIG when threads < 1.
 */
export function createAnomalyPool(threads: number): AnomalyPool {
  if (!Number.isInteger(threads) || threads < 1) throw new VigilError('VIGIL_ERR_CONFIG', `anomaly threads must be a positive integer, got ${threads}`);
  const isTs = new URL(import.meta.url).pathname.endsWith('.ts');
  const piscina = new Piscina<BatchTask, BatchResult>({
    filename: new URL(isTs ? './worker.ts' : './worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    execArgv: isTs ? ['--import', 'tsx'] : [],
  });
  let closed = false;
  return {
    async run(task) {
      if (closed) throw new VigilError('VIGIL_ERR_SHUTTING_DOWN', 'anomaly pool is closed');
      try {
        return await piscina.run(task);
      } catch (err) {
        throw new VigilError('VIGIL_ERR_INTERNAL', 'anomaly worker failed', { cause: err });
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await piscina.close();
    },
  };
}
