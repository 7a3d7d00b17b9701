/**
 * V8 heap tuning of a Vigil process: a fixed old-generation growing factor
 * (VIGIL_HEAP_GROWING_PERCENT, config `runtime.heapGrowingPercent`).
 *
 * V8 starts a major collection (mark-compact) of an isolate when its old
 * generation plus the *external* memory allocated since the last one — the
 * backing stores of ArrayBuffers, i.e. Node's Buffers — reaches the slack
 * between the heap's live size and its limit. The limit is the live size
 * times a growing factor that V8 picks from its GC and mutator speeds
 * (1.1–4; `heap-controller.cc`, `MemoryController::GrowingFactor`). Vigil's
 * event loop holds megabytes of Buffers for a second or so — inflated Kafka
 * fetches until their sub-batch is stored, request bodies until the broker
 * acknowledges — on a heap of ~40 MB whose limit V8 set ~25–30 MB above it.
 * At 30,000 spans/s that started a mark-compact every 0.3–0.7 s: 130 of the
 * main isolate's in one 30 s step of `npm run bench:e2e` (`--node-arg
 * --trace-gc`), their concurrent marking on V8's helper threads ~14 % of the
 * process's CPU samples (`perf`). A fixed factor of 4 (300 %) gives the same
 * heap 3× the slack: 36–61 mark-compacts in the same step, 3–24 µs less CPU
 * per stored span depending on the host's load (bench/README.md, "Fewer
 * major collections").
 *
 * The cost is memory held between collections: up to (factor − 1) × the live
 * size of garbage, old objects and Buffers, per isolate (the main one and the
 * processor workers). V8's heap limit (`--max-old-space-size`) still bounds
 * each heap.
 *
 * The flag is process-wide and read by V8 each time it sets a limit, so it
 * applies to isolates that exist already and to worker threads started later.
 * Call it once, from the process's entry point (bin/vigil.ts), before the
 * roles start.
 */
import v8 from 'node:v8';

/** Default of VIGIL_HEAP_GROWING_PERCENT: a factor of 4, V8's own upper bound for large heaps. */
export const DEFAULT_HEAP_GROWING_PERCENT = 300;

/**
 * Set V8's `--heap-growing-percent` (factor = 1 + percent / 100) for this process.
 * @param percent 1–1000; 0 leaves V8's adaptive factor (does nothing).
 * @throws RangeError when percent is not an integer from 0 to 1000.
 */
export function applyHeapGrowing(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 1000) {
    throw new RangeError(`heap growing percent must be an integer from 0 to 1000, got ${percent}`);
  }
  if (percent === 0) return;
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
}
