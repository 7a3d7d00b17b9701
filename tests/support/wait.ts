/**
 * Waiting on conditions instead of fixed sleeps. Deadlines are generous on
 * purpose (a loaded 2-core machine can be several times slower than a laptop);
 * they bound a hung test, they are not timing assertions.
 */

/** Options of {@link waitFor}. */
export interface WaitOptions {
  /** Give up after this long, in ms (default 120000). */
  timeoutMs?: number;
  /** Pause between checks, in ms (default 250). */
  intervalMs?: number;
}

/** Thrown by a {@link waitFor} check to stop waiting at once: the condition can no longer become true. */
export class GiveUp extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GiveUp';
  }
}

/**
 * Call `check` until it returns a value other than `undefined` (a thrown error
 * counts as "not yet" and is remembered; a {@link GiveUp} is rethrown at once).
 * @returns the first such value.
 * @throws Error after `timeoutMs`, naming `what` and the last error or value seen.
 */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, opts: WaitOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const intervalMs = opts.intervalMs ?? 250;
  const deadline = Date.now() + timeoutMs;
  let last = 'no result yet';
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Wait until `predicate` holds; like {@link waitFor} for a boolean condition.
 * @throws Error after `timeoutMs`, naming `what`.
 */
export async function waitUntil(what: string, predicate: () => Promise<boolean> | boolean, opts: WaitOptions = {}): Promise<void> {
  await waitFor(what, async () => ((await predicate()) ? true : undefined), opts);
}
