/** Start-up failure reports of the test harness (tests/global-setup.ts). */

/**
 * A report of why a test service did not start: one line per error in the
 * `cause` chain (with its `code` when it has one), and how to use existing
 * servers instead. Ends with a newline; meant for stderr.
 * @param what the service, e.g. 'Postgres'.
 */
export function formatStartupFailure(what: string, err: unknown): string {
  const lines = [`[vigil tests] could not start ${what}:`];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    const text = e instanceof Error ? e.message : String(e);
    lines.push(`${depth === 0 ? '  ' : '  caused by: '}${typeof code === 'string' ? `${code}: ` : ''}${text}`);
    e = e instanceof Error ? e.cause : undefined;
  }
  if (lines.length === 1) lines.push('  (no error detail was given)');
  lines.push('  (set KAFKA_BROKERS / DATABASE_URL to use existing servers instead)');
  return `${lines.join('\n')}\n`;
}
