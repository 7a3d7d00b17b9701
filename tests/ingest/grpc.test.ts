/**
 * OTLP/gRPC intake (ingest/grpc/server.ts) with a plain @grpc/grpc-js client
 * sending raw Export*ServiceRequest bytes: full success, partial success, the
 * status codes the OTLP spec gives for gRPC (INVALID_ARGUMENT, UNAUTHENTICATED,
 * UNAVAILABLE / RESOURCE_EXHAUSTED with google.rpc.RetryInfo), gzip, the size cap
 * after inflating, the shared in-flight budget, and metrics → UNIMPLEMENTED.
 * (The official OTel JS gRPC exporters are exercised in tests/e2e/fidelity.test.ts.)
 */
import { Metadata, credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InflightBudget } from '../../ingest/body.js';
import { LOGS_EXPORT, METRICS_EXPORT, TRACE_EXPORT, startGrpcIngest, type GrpcIngest } from '../../ingest/grpc/server.js';
import { RETRY_INFO_TYPE_URL } from '../../ingest/grpc/status.js';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { createInProcessPublisher, type EnvelopeKind } from '../../ingest/publisher.js';
import { KafkaUnavailableError } from '../../platform/errors.js';
import { createLogger } from '../../platform/logger.js';
import type { Envelope } from '../../schemas/envelope.js';
import { SPAN_1, SPAN_2, TRACE_A, mapKeys, tracesJson, tracesProtobuf } from './fixtures.js';

const KEY = 'vgl_test_key';
const MAX = 64 * 1024;

let server: GrpcIngest | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await server?.close(1000);
  server = undefined;
});

async function start(opts: { handler?: (kind: EnvelopeKind, envs: Envelope[]) => Promise<void>; budget?: InflightBudget } = {}) {
  const published: Array<{ kind: EnvelopeKind; envelopes: Envelope[] }> = [];
  const publisher = createInProcessPublisher(opts.handler ?? (async (kind, envelopes) => void published.push({ kind, envelopes })));
  const budget = opts.budget ?? new InflightBudget({ maxInflightBytes: 1024 * 1024, maxInflightRequests: 16 });
  server = await startGrpcIngest({ log: createLogger('silent'), publisher, keys: mapKeys({ [KEY]: 'proj-a' }), budget, maxBodyBytes: MAX, host: '127.0.0.1', port: 0 });
  return { published, budget };
}

const rawMethod = (path: string) => ({
  path, requestStream: false, responseStream: false,
  requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
});

/** Call one unary method with raw bytes; resolves with the response bytes or the ServiceError. */
function call(path: string, body: Buffer, key: string | null = KEY, options: Record<string, unknown> = {}): Promise<{ response?: Buffer; error?: ServiceError }> {
  const Ctor = makeGenericClientConstructor({ Export: rawMethod(path) }, 'Otlp');
  const client = new Ctor(`127.0.0.1:${server!.port}`, credentials.createInsecure(), options);
  clients.push(client);
  const md = new Metadata();
  if (key !== null) md.set('authorization', `Bearer ${key}`);
  return new Promise((resolve) => {
    (client as unknown as { Export: (b: Buffer, m: Metadata, cb: (e: ServiceError | null, r?: Buffer) => void) => void }).Export(body, md, (error, response) =>
      resolve(error ? { error } : { response: response! }),
    );
  });
}

/** The RetryInfo delay (seconds) in a ServiceError's grpc-status-details-bin, or undefined. */
function retryDelaySeconds(err: ServiceError): number | undefined {
  const bin = err.metadata.get('grpc-status-details-bin')[0];
  if (!(bin instanceof Buffer)) return undefined;
  const root = protobuf.Root.fromJSON({
    nested: {
      Any: { fields: { typeUrl: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
      Status: { fields: { code: { type: 'int32', id: 1 }, message: { type: 'string', id: 2 }, details: { rule: 'repeated', type: 'Any', id: 3 } } },
      Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
      RetryInfo: { fields: { retryDelay: { type: 'Duration', id: 1 } } },
    },
  });
  const st = root.lookupType('Status').decode(bin) as unknown as { code: number; details: Array<{ typeUrl: string; value: Uint8Array }> };
  expect(st.code).toBe(err.code);
  const detail = st.details.find((d) => d.typeUrl === RETRY_INFO_TYPE_URL);
  if (detail === undefined) return undefined;
  const info = root.lookupType('RetryInfo').decode(detail.value) as unknown as { retryDelay: { seconds: number | { toNumber(): number } } };
  const s = info.retryDelay.seconds;
  return typeof s === 'number' ? s : s.toNumber();
}

const traceResponse = (b: Buffer) => otlpProto().ExportTraceServiceResponse.toObject(otlpProto().ExportTraceServiceResponse.decode(b), { longs: String }) as { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } };

describe('OTLP/gRPC intake', () => {
  it('TraceService/Export: OK with an empty response; the records go through the same validation and publisher as HTTP', async () => {
    const { published, budget } = await start();
    const res = await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2 }])));
    expect(res.error).toBeUndefined();
    expect(res.response!.length).toBe(0); // full success: partial_success unset
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ kind: 'spans', envelopes: [{ tenant: 'proj-a', format: 'otlp', records: [{ spanId: SPAN_1 }, { spanId: SPAN_2 }] }] });
    expect(budget.requests).toBe(0); // returned
    expect(budget.bytes).toBe(0);
  });

  it('partial success: invalid spans are rejected by name, the rest accepted', async () => {
    const { published } = await start();
    const res = await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }, { traceId: TRACE_A, spanId: SPAN_2, name: '' }])));
    expect(res.error).toBeUndefined();
    expect(traceResponse(res.response!).partialSuccess).toEqual({ rejectedSpans: '1', errorMessage: 'resourceSpans[0].scopeSpans[0].spans[1].name: must be a non-empty string' });
    expect(published[0]!.envelopes[0]!.records).toHaveLength(1);
  });

  it('gzip-compressed messages are accepted; over the size cap after inflating → RESOURCE_EXHAUSTED without RetryInfo', async () => {
    const { published } = await start();
    const gzip = { 'grpc.default_compression_algorithm': 2 }; // gzip
    const ok = await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }])), KEY, gzip);
    expect(ok.error).toBeUndefined();
    expect(published).toHaveLength(1);
    const big = tracesJson([{ traceId: TRACE_A, spanId: SPAN_1, name: 'x'.repeat(MAX) }]);
    const tooBig = await call(TRACE_EXPORT, tracesProtobuf(big), KEY, gzip);
    expect(tooBig.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(retryDelaySeconds(tooBig.error!)).toBeUndefined();
    expect(published).toHaveLength(1);
  });

  it('undecodable bytes → INVALID_ARGUMENT; every span invalid → INVALID_ARGUMENT naming them', async () => {
    await start();
    const garbage = await call(TRACE_EXPORT, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 1]));
    expect(garbage.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(garbage.error?.details).toMatch(/^VIGIL_ERR_DECODE: body is not a valid protobuf/);
    const invalid = await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1, name: '' }])));
    expect(invalid.error?.code).toBe(status.INVALID_ARGUMENT);
    expect(invalid.error?.details).toContain('all 1 spans were rejected');
  });

  it('missing or unknown key (metadata authorization: Bearer …) → UNAUTHENTICATED', async () => {
    const { published } = await start();
    const body = tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }]));
    const none = await call(TRACE_EXPORT, body, null);
    expect(none.error?.code, JSON.stringify(none)).toBe(status.UNAUTHENTICATED);
    expect((await call(TRACE_EXPORT, body, 'vgl_000000000000_wrongwrongwrongwrongwrongwrongwron')).error?.code).toBe(status.UNAUTHENTICATED);
    expect(published).toHaveLength(0);
  });

  it('Kafka not acknowledging → UNAVAILABLE with RetryInfo (the publisher’s Retry-After)', async () => {
    await start({ handler: async () => Promise.reject(new KafkaUnavailableError('Kafka did not acknowledge', undefined, 7)) });
    const res = await call(LOGS_EXPORT, Buffer.from(otlpProto().ExportLogsServiceRequest.encode(otlpProto().ExportLogsServiceRequest.fromObject({
      resourceLogs: [{ scopeLogs: [{ logRecords: [{ body: { stringValue: 'hello' } }] }] }],
    })).finish()));
    expect(res.error?.code).toBe(status.UNAVAILABLE);
    expect(retryDelaySeconds(res.error!)).toBe(7);
  });

  it('intake full (the in-flight budget shared with HTTP) → RESOURCE_EXHAUSTED with RetryInfo; the budget is not leaked', async () => {
    const budget = new InflightBudget({ maxInflightBytes: 1024 * 1024, maxInflightRequests: 1 });
    budget.acquire(0); // one HTTP request in flight holds the only slot
    await start({ budget });
    const res = await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }])));
    expect(res.error?.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(retryDelaySeconds(res.error!)).toBe(1);
    budget.release(0);
    expect(budget.requests).toBe(0);
    expect((await call(TRACE_EXPORT, tracesProtobuf(tracesJson([{ traceId: TRACE_A, spanId: SPAN_1 }])))).error).toBeUndefined();
  });

  it('MetricsService/Export → UNIMPLEMENTED saying metrics are not stored', async () => {
    await start();
    const res = await call(METRICS_EXPORT, Buffer.alloc(0));
    expect(res.error?.code).toBe(status.UNIMPLEMENTED);
    expect(res.error?.details).toContain('OTLP metrics are not accepted');
  });
});
