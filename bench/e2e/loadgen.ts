/**
 * bench:e2e load generator — runs in its own process (forked by bench/e2e.ts,
 * IPC channel), never on the benchmark's event loop.
 *
 * Posts unique copies of the template request ({@link RequestFactory}) as
 * OTLP/HTTP protobuf over an undici Pool of `connections` keep-alive
 * connections (pipelining 1). Rate control is a token bucket (burst cap =
 * connections) with at most `connections` requests in flight, so past
 * saturation it becomes a closed loop of `connections` concurrent requests
 * instead of queueing without bound; `rate: null` is that closed loop from the
 * start ("max"). Every `probeEveryMs` one request is a probe: after its 200 the
 * parent is told its first trace id and the ack time, and polls the query API
 * for it.
 *
 * Messages: parent → child {@link StepCommand} | {type:'stop'};
 * child → parent {type:'ready'}, {@link ProbeMessage}, {@link StepResult}.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { makeTemplate, RequestFactory, SPANS_PER_REQUEST } from './request.js';

export interface LoadgenInit {
  type: 'init';
  /** Origin, e.g. http://127.0.0.1:4318 */
  origin: string;
  path: string;
  headers: Record<string, string>;
  connections: number;
  instance: number;
}

export interface StepCommand {
  type: 'step';
  step: string;
  /** Target spans/s, or null for "as fast as `connections` concurrent requests go". */
  rate: number | null;
  durationMs: number;
  /** 0 = no probes. */
  probeEveryMs: number;
}

export interface ProbeMessage {
  type: 'probe';
  step: string;
  traceId: string;
  /** Wall-clock ms (performance.timeOrigin + now) when the request was sent and when its 200 arrived. */
  sentAt: number;
  ackedAt: number;
}

export interface StepResult {
  type: 'step-done';
  step: string;
  /** Wall-clock ms of the first send and of the end of the send window. */
  startedAt: number;
  endedAt: number;
  /** Send window (s): requests were started during this time. */
  seconds: number;
  /** Time until the last in-flight request finished (s), ≥ seconds. */
  secondsWithDrain: number;
  sent: number;
  ok: number;
  spansSent: number;
  spansAcked: number;
  /** Spans the server rejected in a 200 (partial_success). */
  spansRejected: number;
  /** Non-200 HTTP statuses → count. */
  statuses: Record<string, number>;
  /** Transport errors (no status) → count. */
  errors: Record<string, number>;
  /** Latency of 200s, ms. */
  latency: { p50: number; p90: number; p99: number; max: number; mean: number; n: number };
  /** CPU of this load-generator process during the step (s). */
  cpuSeconds: number;
  probes: number;
}

const now = (): number => performance.timeOrigin + performance.now();

function pct(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** rejected_spans of an ExportTraceServiceResponse (partial_success = 1 → rejected_spans = 1), 0 when absent. */
function rejectedSpans(buf: Buffer): number {
  let pos = 0;
  const varint = (): number => {
    let r = 0;
    let s = 0;
    for (;;) {
      const b = buf[pos++];
      if (b === undefined) return r;
      r += (b & 0x7f) * 2 ** s;
      if ((b & 0x80) === 0) return r;
      s += 7;
    }
  };
  try {
    while (pos < buf.length) {
      const key = varint();
      const wire = key & 7;
      if (key >> 3 === 1 && wire === 2) {
        const end = varint() + pos;
        while (pos < end) {
          const k2 = varint();
          if (k2 >> 3 === 1 && (k2 & 7) === 0) return varint();
          if ((k2 & 7) === 2) pos += varint();
          else if ((k2 & 7) === 0) varint();
          else return 0;
        }
        return 0;
      }
      if (wire === 2) pos += varint();
      else if (wire === 0) varint();
      else return 0;
    }
  } catch {
    return 0;
  }
  return 0;
}

let init: LoadgenInit | undefined;
let pool: Pool | undefined;
let factory: RequestFactory | undefined;

function send(msg: unknown): void {
  process.send?.(msg);
}

async function runStep(cmd: StepCommand): Promise<StepResult> {
  const cfg = init!;
  const p = pool!;
  const f = factory!;
  const conns = cfg.connections;
  const reqRate = cmd.rate === null ? Infinity : cmd.rate / SPANS_PER_REQUEST;
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let spansAcked = 0;
  let spansRejected = 0;
  let probes = 0;
  let inflight = 0;
  let wake: (() => void) | undefined;
  const cpu0 = process.cpuUsage();
  const t0 = now();
  let lastRefill = t0;
  let tokens = Math.min(1, conns);
  let nextProbe = t0 + (cmd.probeEveryMs > 0 ? cmd.probeEveryMs / 2 : Infinity);
  let lastDone = t0;

  const one = (): void => {
    const sentAt = now();
    const probe = sentAt >= nextProbe;
    if (probe) nextProbe += cmd.probeEveryMs * Math.max(1, Math.ceil((sentAt - nextProbe) / cmd.probeEveryMs));
    const { body, firstTraceId } = f.next(Math.floor(sentAt));
    inflight++;
    sent++;
    p.request({ path: cfg.path, method: 'POST', headers: cfg.headers, body })
      .then(
        async (res) => {
          const buf = Buffer.from(await res.body.arrayBuffer());
          const ackedAt = now();
          if (res.statusCode === 200) {
            ok++;
            const rej = rejectedSpans(buf);
            spansRejected += rej;
            spansAcked += SPANS_PER_REQUEST - rej;
            latencies.push(ackedAt - sentAt);
            if (probe && rej === 0) {
              probes++;
              const m: ProbeMessage = { type: 'probe', step: cmd.step, traceId: firstTraceId, sentAt, ackedAt };
              send(m);
            }
          } else {
            statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          }
        },
        (err: unknown) => {
          const code = (err as { code?: string }).code ?? (err as Error).name ?? 'error';
          errors[code] = (errors[code] ?? 0) + 1;
        },
      )
      .finally(() => {
        inflight--;
        lastDone = now();
        const w = wake;
        wake = undefined;
        w?.();
      });
  };

  const endAt = t0 + cmd.durationMs;
  for (;;) {
    const t = now();
    if (t >= endAt) break;
    if (reqRate === Infinity) tokens = conns;
    else {
      tokens = Math.min(conns, tokens + ((t - lastRefill) / 1000) * reqRate);
      lastRefill = t;
    }
    while (tokens >= 1 && inflight < conns) {
      tokens--;
      one();
    }
    // Wait for a free connection or for the next token, whichever is the constraint.
    if (inflight >= conns) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, Math.max(1, endAt - now())).unref();
      });
    } else {
      const waitMs = reqRate === Infinity ? 1 : Math.max(1, ((1 - tokens) / reqRate) * 1000);
      await new Promise<void>((r) => setTimeout(r, Math.min(waitMs, Math.max(1, endAt - now()))));
    }
  }
  const endedAt = now();
  while (inflight > 0) {
    await new Promise<void>((r) => {
      wake = r;
      setTimeout(r, 50).unref();
    });
  }
  const cpu = process.cpuUsage(cpu0);
  const sorted = Float64Array.from(latencies).sort();
  const mean = latencies.length ? latencies.reduce((a, b) => a + b, 0) / latencies.length : NaN;
  return {
    type: 'step-done',
    step: cmd.step,
    startedAt: t0,
    endedAt,
    seconds: (endedAt - t0) / 1000,
    secondsWithDrain: (Math.max(lastDone, endedAt) - t0) / 1000,
    sent,
    ok,
    spansSent: sent * SPANS_PER_REQUEST,
    spansAcked,
    spansRejected,
    statuses,
    errors,
    latency: { p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : NaN, mean, n: sorted.length },
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    probes,
  };
}

process.on('message', (raw: unknown) => {
  const msg = raw as LoadgenInit | StepCommand | { type: 'stop' };
  if (msg.type === 'init') {
    init = msg;
    const u = new URL(msg.origin);
    pool = new Pool(u.origin, { connections: msg.connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
    factory = new RequestFactory(makeTemplate(), msg.instance);
    send({ type: 'ready', bodyBytes: factory.next().body.length });
  } else if (msg.type === 'step') {
    runStep(msg).then(send, (err: unknown) => send({ type: 'error', message: (err as Error).stack ?? String(err) }));
  } else if (msg.type === 'stop') {
    void (pool?.close() ?? Promise.resolve()).finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
