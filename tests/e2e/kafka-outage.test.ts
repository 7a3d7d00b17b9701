/**
 * Kafka stopped → ingest answers 503 with Retry-After and acknowledges nothing;
 * once the broker is back, the client's retry is accepted, and every span that
 * was ever acknowledged reaches ClickHouse exactly once.
 *
 * Uses its own local broker (not the shared harness one) so it can stop it.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../platform/logger.js';
import { cacheDir } from '../../platform/paths.js';
import { freePort, startLocalKafka, type LocalKafka } from '../../platform/kafka/local-broker.js';
import type { RunningVigil } from '../../platform/lifecycle.js';
import { tempDir } from '../support/harness.js';
import { tracesJson } from '../ingest/fixtures.js';
import { E2E_KEY, eventually, getJson, startTestVigil } from './support.js';

const log = createLogger('silent');
const hex = (bytes: number): string => crypto.randomBytes(bytes).toString('hex');

/** One trace of `n` spans starting now, as an OTLP/JSON request body. */
function traceBody(n: number): { traceId: string; body: string } {
  const traceId = hex(16);
  const startNs = BigInt(Date.now()) * 1_000_000n;
  const spans = Array.from({ length: n }, (_, i) => ({
    traceId,
    spanId: hex(8),
    name: `outage-op-${i}`,
    start: String(startNs + BigInt(i) * 1_000_000n),
    end: String(startNs + BigInt(i) * 1_000_000n + 500_000n),
  }));
  return { traceId, body: JSON.stringify(tracesJson(spans, 'outage-svc')) };
}

async function postTraces(ingestUrl: string, body: string): Promise<Response> {
  return fetch(`${ingestUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${E2E_KEY}` },
    body,
  });
}

describe('Kafka outage at ingest', () => {
  let broker: LocalKafka | undefined;
  let vigil: RunningVigil;
  let port: number;
  const dataDir = tempDir('outage-kafka');

  beforeAll(async () => {
    port = await freePort();
    broker = await startLocalKafka({ version: '3.9.1', cacheDir: cacheDir(), dataDir, port, log });
    vigil = await startTestVigil(broker.brokers);
  });

  afterAll(async () => {
    await vigil?.stop();
    await broker?.stop();
  });

  // Recovery waits on kafkajs' reconnect and consumer-group rejoin backoffs (up
  // to 30 s per step with the client's retry policy), slower on a loaded 2-core CI.
  it('answers 503 with Retry-After while Kafka is down and loses nothing once it is back', { timeout: 420_000 }, async () => {
    const before = traceBody(5);
    const ok = await postTraces(vigil.ingestUrl!, before.body);
    expect(ok.status).toBe(200);

    await broker!.stop();
    broker = undefined;

    const during = traceBody(7);
    const refused = await postTraces(vigil.ingestUrl!, during.body);
    expect(refused.status).toBe(503);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    const status = (await refused.json()) as { code?: number; message?: string };
    expect(status.message).toMatch(/kafka/i);

    // The broker comes back on the same port with the same log directory.
    broker = await startLocalKafka({ version: '3.9.1', cacheDir: cacheDir(), dataDir, port, log });

    // The client retries as an OTLP exporter would, honouring Retry-After.
    const accepted = await eventually('ingest to accept the retried export', async () => {
      const res = await postTraces(vigil.ingestUrl!, during.body);
      if (res.status === 200) return res;
      expect([429, 503]).toContain(res.status);
      await new Promise((r) => setTimeout(r, Math.min(Number(res.headers.get('retry-after') ?? 1), 5) * 1000));
      return undefined;
    }, 180_000);
    expect(accepted.status).toBe(200);

    // Everything acknowledged is stored, each span exactly once.
    for (const [trace, n] of [[before, 5], [during, 7]] as const) {
      const spans = await eventually(`the ${n} spans of trace ${trace.traceId}`, async () => {
        const r = await getJson<{ span_count: number; spans: Array<{ span_id: string }> }>(vigil.queryUrl!, `/api/v1/traces/${trace.traceId}`);
        return r.status === 200 && r.body.span_count === n ? r.body : undefined;
      }, 180_000);
      expect(spans.span_count).toBe(n);
    }
  });
});
