/**
 * Steady OTLP/JSON load for the chaos tests: each request is one new trace
 * with `spansPerTrace` spans (ids unique in the run). A 200 marks the trace
 * acknowledged; any other answer or a network error marks it not acknowledged
 * and it is never retried (so a trace is sent exactly once: acknowledged ones
 * must be stored exactly once, the others at most once).
 */
import type { ClickHouseHandle } from '../../platform/clickhouse.js';

/** Load generator (see module doc). */
export class TraceLoad {
  readonly acked = new Set<string>();
  readonly unacked = new Set<string>();
  readonly statuses = new Map<string, number>();
  private seq = 0;
  private running = false;
  private loops: Promise<void>[] = [];

  /**
   * @param ingestUrl current ingest base URL (undefined while no instance runs).
   * @param key API key.
   */
  constructor(
    private readonly ingestUrl: () => string | undefined,
    private readonly key: string,
    private readonly opts: { spansPerTrace?: number; concurrency?: number; pauseMs?: number; prefix?: string } = {},
  ) {}

  private body(traceId: string): string {
    const n = this.opts.spansPerTrace ?? 5;
    const now = BigInt(Date.now()) * 1_000_000n;
    return JSON.stringify({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'chaos' } }] },
        scopeSpans: [{
          scope: { name: 'chaos' },
          spans: Array.from({ length: n }, (_, i) => ({
            traceId,
            spanId: `${traceId.slice(0, 14)}${i.toString(16).padStart(2, '0')}`,
            name: 'op',
            kind: 2,
            startTimeUnixNano: String(now),
            endTimeUnixNano: String(now + BigInt(i + 1) * 1_000_000n),
            attributes: [{ key: 'i', value: { intValue: String(i) } }],
          })),
        }],
      }],
    });
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const url = this.ingestUrl();
      if (url === undefined) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      this.seq += 1;
      const traceId = `${this.opts.prefix ?? 'c'}${this.seq.toString(16)}`.padStart(32, '0').slice(-32).replace(/^0/, 'a');
      let status = 'error';
      try {
        const res = await fetch(`${url}/v1/traces`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
          body: this.body(traceId),
          signal: AbortSignal.timeout(30_000),
        });
        await res.arrayBuffer();
        status = String(res.status);
      } catch {
        status = 'error';
      }
      this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
      (status === '200' ? this.acked : this.unacked).add(traceId);
      await new Promise((r) => setTimeout(r, this.opts.pauseMs ?? 20));
    }
  }

  /** Start sending. */
  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.opts.concurrency ?? 4 }, () => this.loop());
  }

  /** Stop sending and wait for the requests in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Resolve once `n` more traces were acknowledged than when called. */
  async ackedMore(n: number, timeoutMs = 180_000): Promise<void> {
    const target = this.acked.size + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acked.size < target) {
      if (Date.now() > deadline) throw new Error(`only ${this.acked.size} of ${target} traces acknowledged; statuses ${JSON.stringify([...this.statuses])}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Check storage: every acknowledged trace has each of its spans exactly once;
   * every other trace at most once. Returns problems (empty when all hold) and
   * whether every acknowledged trace is complete.
   */
  async verify(ch: ClickHouseHandle): Promise<{ complete: boolean; problems: string[] }> {
    const rs = await ch.client.query({
      query: "SELECT trace_id, count() AS rows, uniqExact(span_id) AS spans FROM {db:Identifier}.spans WHERE service = 'chaos' GROUP BY trace_id",
      query_params: { db: ch.database },
      format: 'JSONEachRow',
    });
    const stored = new Map(((await rs.json()) as Array<{ trace_id: string; rows: string; spans: string }>).map((r) => [r.trace_id, { rows: Number(r.rows), spans: Number(r.spans) }]));
    const n = this.opts.spansPerTrace ?? 5;
    const problems: string[] = [];
    let complete = true;
    for (const t of this.acked) {
      const s = stored.get(t);
      if (s === undefined || s.spans < n) complete = false;
      if (s !== undefined && s.rows !== s.spans) problems.push(`acknowledged trace ${t} stored ${s.rows} rows for ${s.spans} spans (duplicates)`);
    }
    for (const t of this.unacked) {
      const s = stored.get(t);
      if (s !== undefined && s.rows !== s.spans) problems.push(`unacknowledged trace ${t} stored twice (${s.rows} rows for ${s.spans} spans)`);
    }
    return { complete, problems };
  }
}
