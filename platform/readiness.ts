/**
 * Readiness checks of a process, composed by platform/lifecycle.ts and served
 * by the query API's `/readyz` (query-api/routes/health.ts).
 *
 * Each check answers `{ ok, reason? }` within `timeoutMs` (a check that does
 * not answer in time is not ok: "no answer within N ms"); checks run
 * concurrently and never throw.
 */

/** One check's answer. */
export interface CheckResult {
  ok: boolean;
  reason?: string;
}

/** A named check. */
export type Check = () => CheckResult | Promise<CheckResult>;

/**
 * Compose checks into one function.
 * @param checks name → check.
 * @param timeoutMs per-check bound, ms (default 2 000).
 * @returns a function resolving to name → result.
 */
export function composeReadiness(checks: Record<string, Check>, timeoutMs = 2_000): () => Promise<Record<string, CheckResult>> {
  return async () => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<CheckResult>((resolve) => {
          timer = setTimeout(() => resolve({ ok: false, reason: `no answer within ${timeoutMs} ms` }), timeoutMs);
        });
        try {
          const r = await Promise.race([Promise.resolve().then(check), late]);
          return [name, r];
        } catch (err) {
          return [name, { ok: false, reason: err instanceof Error ? err.message : String(err) }];
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return Object.fromEntries(entries);
  };
}
