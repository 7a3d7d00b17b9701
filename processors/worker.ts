/**
 * Piscina worker: Kafka message values (envelopes, schemas/envelope.ts) →
 * ClickHouse rows. Pure and synchronous; also callable in-process.
 *
 * Input: a batch of items, each a raw message value (UTF-8 JSON string), an
 * already parsed envelope, `{ offset, value }` carrying the Kafka offset
 * (decimal string) — without one, the item's index in the batch is used — or
 * `{ offset, raw, meta }`: a version 2 message (schemas/envelope.ts), the OTLP
 * request bytes as ingest received them (protobuf or OTLP/JSON), decoded here.
 * Output: {@link WorkerResult}. A message that is not JSON, not a valid
 * envelope, or holds a record that cannot be normalised is rejected whole
 * (`{ offset, reason }`, no rows from it) so the consumer can dead-letter it;
 * the other messages of the batch are unaffected.
 *
 * Encoded in blocks (the pool's path, {@link processBatchEncoded}), protobuf
 * span messages are read straight into columns (processors/span-wire.ts,
 * span-columns.ts) instead of OTLP objects and rows; the block and the
 * aggregates are the same, byte for byte.
 *
 * Spans also feed the per-minute aggregates of the accepted spans of the
 * batch: series and per-user costs (processors/aggregate.ts) and feature-flag
 * evaluations per variant (processors/flag-variants.ts).
 */
import type { Envelope, RawMessageMeta } from '../schemas/envelope.js';
import { decodeLogsJson, decodeLogsProtobuf, decodeTracesJson, decodeTracesProtobuf } from '../ingest/otlp/decode.js';
import { ENVELOPE_VERSION } from '../schemas/envelope.js';
import type { FlagVariantMetricRow, LogRow, SpanMetricRow, SpanRow, SpanUserCostRow } from '../schemas/rows.js';
import type { ProcessorTable } from './writer.js';
import type { InsertBody } from '../platform/clickhouse.js';
import { sampleSpans } from './sampling.js';
import { aggregateBatch, SpanAggregator } from './aggregate.js';
import { aggregateFlagVariants, FlagVariantAggregator } from './flag-variants.js';
import { nativeLogToRow, otlpLogToRow } from './normalize/logs.js';
import { nativeSpanToRow, otlpSpanToRow } from './normalize/spans.js';
import { encodeLogsNative, encodeSpansNative, LOG_COLUMN_NAMES, SPAN_COLUMN_NAMES } from './encode-native.js';
import { SpanColumns } from './span-columns.js';
import { BlockSink } from './block-sink.js';
import { readSpansInto, type SpanFacts } from './span-wire.js';

/** A version 2 message: the OTLP request body and its headers. */
export interface RawItem {
  offset: string;
  raw: Uint8Array;
  meta: RawMessageMeta;
}

/** One input message. */
export type WorkerItem = string | Envelope | { offset: string; value: string | Envelope } | RawItem;

/** Options of a batch. */
export interface BatchOptions {
  /** Head sampling per tenant (processors/sampling.ts); absent tenants keep every span. */
  keepRatio?: Readonly<Record<string, number>>;
  /** Rows per Native block of {@link processBatchEncoded} (default {@link BLOCK_ROWS}; Infinity: one block, rows held until the end). */
  blockRows?: number;
  /**
   * Write the spans and logs Native blocks to files in this directory as they
   * are encoded (`NativeFiles` bodies, named `<pid>-<thread>-<n>-<table>.native`;
   * the caller removes them) instead of returning the bytes: the event loop
   * then never holds the encoded rows (tens of MB per large sub-batch, whose
   * external-memory pressure made the main thread's V8 run a full GC every
   * few hundred ms) and they are not copied between threads.
   */
  spoolDir?: string;
}

/** A message the worker could not turn into rows. offset: Kafka offset (decimal string) or batch index. */
export interface Rejected {
  offset: string;
  reason: string;
}

/** Rows produced from a batch. */
export interface WorkerResult {
  spans: SpanRow[];
  logs: LogRow[];
  /** span_metrics_1m rows: per (tenant, minute, service, operation, model, provider), with sketches. */
  metrics: SpanMetricRow[];
  /** span_user_costs_1m rows: per (tenant, minute, service, model, provider, user_id), no sketches. */
  userCosts: SpanUserCostRow[];
  /** flag_variant_metrics_1m rows: per (tenant, minute, flag, variant, service, operation), with sketches. */
  flagVariants: FlagVariantMetricRow[];
  rejected: Rejected[];
}

function isRaw(item: WorkerItem): item is RawItem {
  return typeof item === 'object' && item !== null && 'raw' in item && 'meta' in item;
}

/** Normalise a version 2 message: decode the OTLP request, then every record; throws on the first bad one. */
function normaliseRaw(item: RawItem): { spans: SpanRow[]; logs: LogRow[] } {
  const { tenant, format, kind, receivedAtMs } = item.meta;
  const spans: SpanRow[] = [];
  const logs: LogRow[] = [];
  if (kind === 'spans') {
    const req = format === 'otlp-proto' ? decodeTracesProtobuf(item.raw) : decodeTracesJson(item.raw);
    for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const sp of ss.spans) spans.push(otlpSpanToRow(tenant, rs.resource, ss.scope, sp));
  } else {
    const req = format === 'otlp-proto' ? decodeLogsProtobuf(item.raw) : decodeLogsJson(item.raw);
    for (const rl of req.resourceLogs) for (const sl of rl.scopeLogs) for (const r of sl.logRecords) logs.push(otlpLogToRow(tenant, rl.resource, sl.scope, r, receivedAtMs));
  }
  return { spans, logs };
}

function isWrapped(item: WorkerItem): item is { offset: string; value: string | Envelope } {
  return typeof item === 'object' && item !== null && 'offset' in item && 'value' in item && !('kind' in item);
}

function parseEnvelope(value: string | Envelope): Envelope {
  const env: unknown = typeof value === 'string' ? JSON.parse(value) : value;
  if (typeof env !== 'object' || env === null) throw new Error('message value is not a JSON object');
  const e = env as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) throw new Error(`unsupported envelope version ${JSON.stringify(e.v)} (expected ${ENVELOPE_VERSION})`);
  if (typeof e.tenant !== 'string' || e.tenant === '') throw new Error('envelope tenant must be a non-empty string');
  if (e.kind !== 'spans' && e.kind !== 'logs') throw new Error(`envelope kind must be 'spans' or 'logs', got ${JSON.stringify(e.kind)}`);
  if (e.format !== 'otlp' && e.format !== 'native') throw new Error(`envelope format must be 'otlp' or 'native', got ${JSON.stringify(e.format)}`);
  if (!Array.isArray(e.records)) throw new Error('envelope records must be an array');
  return env as Envelope;
}

/** Normalise one envelope; throws on the first bad record. */
function normalise(env: Envelope): { spans: SpanRow[]; logs: LogRow[] } {
  const spans: SpanRow[] = [];
  const logs: LogRow[] = [];
  if (env.kind === 'spans') {
    if (env.format === 'otlp') for (const r of env.records) spans.push(otlpSpanToRow(env.tenant, env.resource, env.scope, r));
    else for (const r of env.records) spans.push(nativeSpanToRow(env.tenant, r));
  } else {
    const at = typeof env.receivedAtMs === 'number' ? env.receivedAtMs : Date.now();
    if (env.format === 'otlp') for (const r of env.records) logs.push(otlpLogToRow(env.tenant, env.resource, env.scope, r, at));
    else for (const r of env.records) logs.push(nativeLogToRow(env.tenant, r, at));
  }
  return { spans, logs };
}

/**
 * The rows of one message, or null when it is rejected (then appended to
 * `rejected` with its offset — the Kafka offset, or `index` for items without
 * one — and the reason).
 */
function normaliseItem(item: WorkerItem, index: number, rejected: Rejected[]): { spans: SpanRow[]; logs: LogRow[] } | null {
  try {
    return isRaw(item) ? normaliseRaw(item) : normalise(parseEnvelope(isWrapped(item) ? item.value : (item as string | Envelope)));
  } catch (err) {
    const reason = err instanceof SyntaxError ? `malformed JSON: ${err.message}` : err instanceof Error ? err.message : String(err);
    rejected.push({ offset: isRaw(item) || isWrapped(item) ? item.offset : String(index), reason });
    return null;
  }
}

/**
 * Turn a batch of messages into rows.
 * @param batch messages (see {@link WorkerItem}).
 * @returns rows per table plus rejected messages; never throws for bad input.
 */
export function processBatch(batch: readonly WorkerItem[], opts: BatchOptions = {}): WorkerResult {
  const out: WorkerResult = { spans: [], logs: [], metrics: [], userCosts: [], flagVariants: [], rejected: [] };
  batch.forEach((item, i) => {
    const rows = normaliseItem(item, i, out.rejected);
    if (rows === null) return;
    for (const s of rows.spans) out.spans.push(s);
    for (const l of rows.logs) out.logs.push(l);
  });
  // Aggregates from every span; then (head) sampling decides which spans are stored.
  const agg = aggregateBatch(out.spans);
  out.metrics = agg.metrics;
  out.userCosts = agg.userCosts;
  out.flagVariants = aggregateFlagVariants(out.spans);
  out.spans = sampleSpans(out.spans, opts.keepRatio);
  return out;
}

/**
 * An insert body encoded in a worker thread: ClickHouse Native (a columnar
 * block, `columns` in block order; spans and logs, the high-volume tables)
 * or JSONEachRow text (the aggregate tables: few rows, sketches as JSON).
 */
export type EncodedBody = InsertBody;

/**
 * Rows of a batch encoded per table, with row counts. Encoding here, in the
 * worker thread, keeps the main thread (which also serves ingest) from
 * serialising rows and from receiving object graphs by structured clone:
 * it passes the bytes straight to the insert.
 */
export interface EncodedResult {
  bodies: Record<ProcessorTable, EncodedBody>;
  counts: Record<ProcessorTable, number>;
  rejected: Rejected[];
}

function jsonEachRow(rows: readonly unknown[]): EncodedBody {
  let out = '';
  for (const r of rows) out += JSON.stringify(r) + '\n';
  return { format: 'JSONEachRow', data: out };
}

/**
 * Rows as a Native block; rows the block cannot hold (a value out of its
 * column's range — none is known since migration 0016 stores attribute values
 * as text, an intValue beyond Int64 included) fall back to JSONEachRow, so
 * that ClickHouse rejects them and the store isolates the offending message
 * (processors/store.ts).
 */
function native<R>(rows: readonly R[], encode: (rows: readonly R[]) => Uint8Array, columns: readonly string[]): EncodedBody {
  try {
    return { format: 'Native', data: encode(rows), columns };
  } catch (err) {
    // Only a value out of the column's range (BigInt's SyntaxError / RangeError); anything else is a bug.
    if (err instanceof RangeError || err instanceof SyntaxError) return jsonEachRow(rows);
    throw err;
  }
}

/** The encoded result of a whole batch's rows (one block per table). */
function encodeWhole(r: WorkerResult): EncodedResult {
  return {
    bodies: {
      spans: native(r.spans, encodeSpansNative, SPAN_COLUMN_NAMES),
      span_metrics_1m: jsonEachRow(r.metrics),
      span_user_costs_1m: jsonEachRow(r.userCosts),
      flag_variant_metrics_1m: jsonEachRow(r.flagVariants),
      logs: native(r.logs, encodeLogsNative, LOG_COLUMN_NAMES),
    },
    counts: {
      spans: r.spans.length,
      span_metrics_1m: r.metrics.length,
      span_user_costs_1m: r.userCosts.length,
      flag_variant_metrics_1m: r.flagVariants.length,
      logs: r.logs.length,
    },
    rejected: r.rejected,
  };
}

/**
 * Rows per Native block when a batch is encoded while it is normalised. The
 * rows of a block are garbage once it is encoded, so they die in V8's young
 * generation instead of being promoted and marked (a batch of 20,000 spans
 * held whole cost ~40 % more CPU per span, mostly garbage collection).
 */
export const BLOCK_ROWS = 1024;

/**
 * Read a version 2 protobuf spans message into the columns (processors/span-wire.ts).
 * @returns false when it is not one, or when the columnar reader handed it
 *   back (the columns and facts are then as before the call): the caller
 *   reads it the object path's way, which also rejects a bad message with
 *   its exact reason.
 */
function readColumnar(item: WorkerItem, cols: SpanColumns, facts: SpanFacts[]): boolean {
  if (!isRaw(item) || item.meta.kind !== 'spans' || item.meta.format !== 'otlp-proto') return false;
  const mark = cols.mark();
  const factCount = facts.length;
  try {
    readSpansInto(item.raw, item.meta.tenant, cols, facts);
    return true;
  } catch {
    cols.rollback(mark);
    facts.length = factCount;
    return false;
  }
}

/**
 * {@link processBatchEncoded} in blocks of {@link BLOCK_ROWS} rows: normalise
 * messages until a block is full, feed the aggregates, encode the block,
 * drop its rows. Null when a block cannot be encoded (a value the Native
 * column cannot hold): the caller encodes the batch whole, with its
 * JSONEachRow fallback.
 */
function processInBlocks(batch: readonly WorkerItem[], blockRows: number, spoolDir: string | undefined): EncodedResult | null {
  const aggregates = new SpanAggregator();
  const variants = new FlagVariantAggregator();
  const spanBlocks = new BlockSink('spans', SPAN_COLUMN_NAMES, spoolDir);
  const logBlocks = new BlockSink('logs', LOG_COLUMN_NAMES, spoolDir);
  const rejected: Rejected[] = [];
  // Spans are held as columns (processors/span-columns.ts), read straight from
  // protobuf messages (processors/span-wire.ts) or added from rows.
  const cols = new SpanColumns();
  const seconds = new Map<string, bigint>();
  let facts: SpanFacts[] = [];
  let logs: LogRow[] = [];
  let spanCount = 0;
  let logCount = 0;
  const flushSpans = (): void => {
    aggregates.add(facts);
    variants.add(facts);
    spanBlocks.add(cols.encode());
    spanCount += cols.n;
    cols.clear();
    facts = [];
  };
  const flushLogs = (): void => {
    logBlocks.add(encodeLogsNative(logs));
    logCount += logs.length;
    logs = [];
  };
  try {
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!;
      if (!readColumnar(item, cols, facts)) {
        const rows = normaliseItem(item, i, rejected);
        if (rows === null) continue;
        for (const s of rows.spans) {
          cols.addRow(s, seconds);
          facts.push(s);
        }
        for (const l of rows.logs) logs.push(l);
      }
      if (cols.n >= blockRows) flushSpans();
      if (logs.length >= blockRows) flushLogs();
    }
    if (cols.n > 0) flushSpans();
    if (logs.length > 0) flushLogs();
  } catch (err) {
    spanBlocks.discard();
    logBlocks.discard();
    if (err instanceof RangeError || err instanceof SyntaxError) return null;
    throw err;
  }
  const { metrics, userCosts } = aggregates.finish();
  const flagVariants = variants.finish();
  return {
    bodies: {
      spans: spanBlocks.finish(),
      span_metrics_1m: jsonEachRow(metrics),
      span_user_costs_1m: jsonEachRow(userCosts),
      flag_variant_metrics_1m: jsonEachRow(flagVariants),
      logs: logBlocks.finish(),
    },
    counts: { spans: spanCount, span_metrics_1m: metrics.length, span_user_costs_1m: userCosts.length, flag_variant_metrics_1m: flagVariants.length, logs: logCount },
    rejected,
  };
}

/**
 * {@link processBatch}, encoded (see {@link EncodedResult}): the same rows,
 * aggregates and rejections. Encoded in blocks of {@link BLOCK_ROWS} rows
 * (the spans and logs bodies are then a Native stream of several blocks,
 * in memory or, with `opts.spoolDir`, in files the caller must remove);
 * whole, in memory, when sampling applies (its "keep traces with an error
 * span" decision needs the whole batch) or a block cannot be encoded.
 * @throws Error only on a worker bug (bad input becomes `rejected`), or a
 *   Node system error writing a spool file (e.g. ENOSPC).
 */
export function processBatchEncoded(batch: readonly WorkerItem[], opts: BatchOptions = {}): EncodedResult {
  const sampling = opts.keepRatio !== undefined && Object.values(opts.keepRatio).some((r) => r < 1);
  return (sampling ? null : processInBlocks(batch, opts.blockRows ?? BLOCK_ROWS, opts.spoolDir)) ?? encodeWhole(processBatch(batch, opts));
}

/** A pool task: the batch, or the batch with options. */
export type WorkerTask = readonly WorkerItem[] | { items: readonly WorkerItem[]; opts: BatchOptions };

function taskParts(task: WorkerTask): [readonly WorkerItem[], BatchOptions] {
  return Array.isArray(task) ? [task, {}] : [(task as { items: readonly WorkerItem[] }).items, (task as { opts: BatchOptions }).opts];
}

/** Piscina entry point (default export): rows. */
export default function run(task: WorkerTask): WorkerResult {
  return processBatch(...taskParts(task));
}

/** Piscina entry point `runEncoded`: encoded insert bodies. */
export function runEncoded(task: WorkerTask): EncodedResult {
  return processBatchEncoded(...taskParts(task));
}
