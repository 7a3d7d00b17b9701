/**
 * An OTLP protobuf ExportTraceServiceRequest read straight into
 * {@link SpanColumns}: the worker's path for the spans ingest forwards as
 * received (version 2 messages). It makes the same rows as decoding the
 * request (ingest/otlp/wire-records.ts) and normalising each span
 * (normalize/spans.ts otlpSpanToRow), without the objects in between: no
 * KeyValue / AnyValue object for a string attribute, no attribute map object,
 * no SpanRow, no time literal except the start's (for the aggregates).
 * Profiled, those objects and their garbage were most of the worker's CPU
 * per span (bench/README.md, "Spans read into columns").
 *
 * Anything this path does not reproduce exactly is handed back: it throws,
 * the caller rolls the columns back and reads the message the object path's
 * way, which then also gives a bad message its exact rejection reason. That
 * is: any decode or normalisation error, a resource or scope that follows
 * its records on the wire, attribute keys that a JavaScript object would
 * enumerate in another order or not store (keys beginning with a digit,
 * `__proto__`), and spans of more than {@link MAX_FAST_ATTRIBUTES} attributes.
 */
import type protobuf from 'protobufjs';
import type { AnyValue } from '../schemas/otlp.js';
import { DATETIME_MAX_NS } from '../schemas/limits.js';
import { nsToClickHouse } from '../schemas/time.js';
import {
  anyValue, enter, keyStr, leave, mergeAnyValue, message, readerOf, resourceInto, resourceOf, scopeInto, scopeOf, str,
  WIRE_LEN, type ResourceParts, type ScopeParts,
} from '../ingest/otlp/wire.js';
import { readSpanFields } from '../ingest/otlp/wire-records.js';
import { attributeText, flattenKeyValuesTyped, keyValuesToPlain, uint32 } from './normalize/attributes.js';
import { eventsJson, KIND_NAMES, linksJson, STATUS_NAMES } from './normalize/spans.js';
import { genAiInfoFrom, type GenAiInfo } from './genai.js';
import { priceCall } from './cost.js';
import type { SpanColumns } from './span-columns.js';
import { FLAG_ATTRIBUTE_KEYS, type FlagSpan } from './flag-variants.js';

type Reader = protobuf.Reader;

/** What the aggregators read of a span (processors/aggregate.ts, flag-variants.ts). */
export type SpanFacts = FlagSpan;

/** Spans with more attributes than this go the object path (the duplicate check here is pairwise). */
export const MAX_FAST_ATTRIBUTES = 128;

/** Thrown to hand a message back to the object path (module doc); caught by the worker, never reported. */
export class NotColumnar extends Error {}

const NO_ATTRIBUTES: Readonly<Record<string, string>> = Object.freeze({});
const NO_GENAI: GenAiInfo = Object.freeze({ model: '', provider: '', userId: '', inputTokens: 0, outputTokens: 0, cachedTokens: 0, hasTokens: false });

/** Whether a hex id is empty or all zeros (OTLP's "no id"; normalize/attributes.ts normalizeId). */
function noId(hex: string): boolean {
  for (let i = 0; i < hex.length; i++) if (hex.charCodeAt(i) !== 48) return false;
  return true;
}

/** ns of a fixed64 read as two halves. */
function nsOf(lo: number, hi: number): bigint {
  return hi === 0 ? BigInt(lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/** Per-request state of the reader. */
class SpanReader {
  private rowAttrs = 0;
  private rowTypes = 0;
  /** Bits of the current span's keys: 1 gen_ai.*, 2 user id, 4 feature flag. */
  private seen = 0;
  private service = 'unknown_service';
  private group = 0;
  private resourceDropped = 0;
  private scopeName = '';
  private scopeVersion = '';
  private scopeAttributes = '{}';
  private scopeDropped = 0;

  constructor(
    private readonly r: Reader,
    private readonly view: Buffer,
    private readonly tenant: string,
    private readonly cols: SpanColumns,
    private readonly facts: SpanFacts[],
  ) {}

  /** The request (top-level message): ResourceSpans (1). */
  request(): void {
    const r = this.r;
    message(r, 0, true, (no, wire) => {
      if (no !== 1 || wire !== WIRE_LEN) return false;
      this.resourceSpans(1);
      return true;
    });
  }

  /** ResourceSpans: resource (1, before any scope), ScopeSpans (2), schema_url (3). */
  private resourceSpans(depth: number): void {
    const { r, view, cols } = this;
    const res: ResourceParts = { attributes: [], dropped: 0, entityRefs: 0, present: false };
    const firstRow = cols.n;
    let started = false;
    let url = '';
    message(r, depth, false, (no, wire) => {
      if (no === 1 && wire === WIRE_LEN) {
        if (started) throw new NotColumnar('resource after its scopes');
        resourceInto(res, r, view, depth + 1);
      } else if (no === 2 && wire === WIRE_LEN) {
        if (!started) {
          started = true;
          const flat = flattenKeyValuesTyped(resourceOf(res, '').attributes);
          this.service = flat.all['service.name'] || 'unknown_service';
          this.group = cols.addGroup(flat.all, flat.types);
          this.resourceDropped = uint32(res.dropped);
        }
        this.scopeSpans(depth + 1);
      } else if (no === 3 && wire === WIRE_LEN) url = str(r, view);
      else return false;
      return true;
    });
    // The last schema_url read applies to every row of the container, wherever it came.
    if (url !== '') {
      const urls = cols.str.resource_schema_url;
      for (let i = firstRow; i < cols.n; i++) urls[i] = url;
    }
  }

  /** ScopeSpans: scope (1, before any span), Span (2), schema_url (3). */
  private scopeSpans(depth: number): void {
    const { r, view, cols } = this;
    const scope: ScopeParts = { name: '', version: '', attributes: [], dropped: 0, present: false };
    const firstRow = cols.n;
    let started = false;
    let url = '';
    message(r, depth, false, (no, wire) => {
      if (no === 1 && wire === WIRE_LEN) {
        if (started) throw new NotColumnar('scope after its spans');
        scopeInto(scope, r, view, depth + 1);
      } else if (no === 2 && wire === WIRE_LEN) {
        if (!started) {
          started = true;
          const s = scopeOf(scope, '');
          this.scopeName = s.name ?? '';
          this.scopeVersion = s.version ?? '';
          this.scopeAttributes = JSON.stringify(keyValuesToPlain(s.attributes));
          this.scopeDropped = uint32(s.droppedAttributesCount);
        }
        this.span(depth + 1);
      } else if (no === 3 && wire === WIRE_LEN) url = str(r, view);
      else return false;
      return true;
    });
    // The last schema_url read applies to every row of the container, wherever it came.
    if (url !== '') {
      const urls = cols.str.scope_schema_url;
      for (let i = firstRow; i < cols.n; i++) urls[i] = url;
    }
  }

  /**
   * One attribute (KeyValue at the reader's position) into the current row:
   * a string value is read without an AnyValue object; a later duplicate of
   * a key replaces its text in place and its type code as a JavaScript
   * object would (normalize/attributes.ts storeAttribute).
   */
  private readonly attributeAt = (depth: number): void => this.attribute(depth);

  private attribute(depth: number): void {
    const { r, view, cols } = this;
    let key = '';
    let text = '';
    let value: AnyValue | undefined;
    let simple = false;
    const outer = enter(r, depth);
    while (r.pos < r.len) {
      const tag = r.tag();
      if (tag === ((1 << 3) | WIRE_LEN)) key = keyStr(r, view);
      else if (tag === ((2 << 3) | WIRE_LEN)) {
        const at = r.pos;
        if (value === undefined && !simple) {
          // AnyValue { string_value } alone: the text, no objects.
          const len = r.uint32();
          const end = r.pos + len;
          if (end <= r.len && len > 0 && view[r.pos] === ((1 << 3) | WIRE_LEN)) {
            r.pos++;
            const saved = r.len;
            r.len = end;
            const s = str(r, view);
            r.len = saved;
            if (r.pos === end) {
              text = s;
              simple = true;
              continue;
            }
          }
          r.pos = at;
        }
        if (simple) {
          value = { stringValue: text };
          simple = false;
        }
        value = mergeAnyValue(value, anyValue(r, view, depth + 1, 0));
      } else r.skipType(tag & 7, depth, tag >>> 3);
    }
    leave(r, outer);
    const c0 = key.charCodeAt(0);
    if ((c0 >= 48 && c0 <= 57) || key === '__proto__') throw new NotColumnar('attribute key an object would reorder');
    let type: number = 0;
    if (!simple) ({ text, type } = attributeText(value ?? {}));
    const keys = cols.attrKeys;
    let j = this.rowAttrs;
    const n = keys.length;
    while (j < n && keys[j] !== key) j++;
    if (j === n) {
      if (n - this.rowAttrs >= MAX_FAST_ATTRIBUTES) throw new NotColumnar('many attributes');
      keys.push(key);
      cols.attrValues.push(text);
      if (c0 === 103 && key.startsWith('gen_ai.')) this.seen |= 1;
      else if (key === 'user.id' || key === 'enduser.id') this.seen |= 2;
      else if (c0 === 102 && key.startsWith('feature_flag.')) this.seen |= 4;
      // A new key has no type code yet.
      if (type !== 0) {
        cols.typeKeys.push(key);
        cols.typeCodes.push(type);
      }
      return;
    }
    cols.attrValues[j] = text;
    const tkeys = cols.typeKeys;
    let t = this.rowTypes;
    while (t < tkeys.length && tkeys[t] !== key) t++;
    if (type !== 0) {
      if (t === tkeys.length) {
        tkeys.push(key);
        cols.typeCodes.push(type);
      } else cols.typeCodes[t] = type;
    } else if (t < tkeys.length) {
      tkeys.splice(t, 1);
      cols.typeCodes.splice(t, 1);
    }
  }

  /** The text of attribute `key` of the current row, undefined when absent. */
  private lookup = (key: string): string | undefined => {
    const keys = this.cols.attrKeys;
    for (let j = this.rowAttrs; j < keys.length; j++) if (keys[j] === key) return this.cols.attrValues[j];
    return undefined;
  };

  /** One Span (trace.proto) into a row, its fields read as the OTLP-shape decoder reads them (wire-records.ts readSpanFields). */
  private span(depth: number): void {
    const { r, view, cols } = this;
    this.rowAttrs = cols.attrKeys.length;
    this.rowTypes = cols.typeKeys.length;
    this.seen = 0;
    const f = readSpanFields(r, view, depth, this.attributeAt);
    const { traceId, spanId, name } = f;
    if (noId(traceId) || noId(spanId)) throw new NotColumnar('span without ids');
    const startNs = nsOf(f.startLo, f.startHi);
    const endNs = nsOf(f.endLo, f.endHi);
    if (startNs > DATETIME_MAX_NS || endNs > DATETIME_MAX_NS) throw new NotColumnar('time beyond DateTime64');
    const durationNs = endNs > startNs ? Number(endNs - startNs) : 0;
    const startTime = nsToClickHouse(startNs);
    const g = (this.seen & 3) === 0 ? NO_GENAI : genAiInfoFrom(this.lookup);
    const cost = g.model === '' ? null : priceCall({ ...g, atMs: Number(startNs / 1_000_000n) });
    const costUsd = cost === null ? null : cost.cost_usd;
    const unpriced = cost === null ? 0 : cost.unpriced;
    const eventsText = eventsJson(f.events);
    let flagAttributes = NO_ATTRIBUTES;
    if ((this.seen & 4) !== 0) {
      const a: Record<string, string> = {};
      for (const k of FLAG_ATTRIBUTE_KEYS) {
        const v = this.lookup(k);
        if (v !== undefined) a[k] = v;
      }
      flagAttributes = a;
    }
    const kindName = KIND_NAMES[f.kind] ?? 'unspecified';
    const status = STATUS_NAMES[f.status?.code ?? 0] ?? 'unset';

    const s = cols.str;
    s.tenant.push(this.tenant);
    s.trace_id.push(traceId);
    s.span_id.push(spanId);
    s.parent_span_id.push(noId(f.parentSpanId) ? '' : f.parentSpanId);
    s.name.push(name);
    s.kind.push(kindName);
    s.service.push(this.service);
    s.status_code.push(status);
    s.status_message.push(f.status?.message ?? '');
    s.scope_name.push(this.scopeName);
    s.scope_version.push(this.scopeVersion);
    s.events.push(eventsText);
    s.model.push(g.model);
    s.provider.push(g.provider);
    s.user_id.push(g.userId);
    s.trace_state.push(f.traceState);
    s.links.push(linksJson(f.links));
    s.resource_schema_url.push('');
    s.scope_attributes.push(this.scopeAttributes);
    s.scope_schema_url.push('');
    const m = cols.num;
    m.duration_ns.push(durationNs);
    m.input_tokens.push(g.inputTokens);
    m.output_tokens.push(g.outputTokens);
    m.cached_tokens.push(g.cachedTokens);
    m.unpriced.push(unpriced);
    m.flags.push(uint32(f.flags));
    m.dropped_attributes_count.push(uint32(f.droppedAttributes));
    m.dropped_events_count.push(uint32(f.droppedEvents));
    m.dropped_links_count.push(uint32(f.droppedLinks));
    m.resource_dropped_attributes_count.push(this.resourceDropped);
    m.scope_dropped_attributes_count.push(this.scopeDropped);
    cols.startNs.push(startNs);
    cols.endNs.push(endNs);
    cols.costUsd.push(costUsd);
    cols.attrStart.push(this.rowAttrs);
    cols.attrEnd.push(cols.attrKeys.length);
    cols.typeStart.push(this.rowTypes);
    cols.typeEnd.push(cols.typeKeys.length);
    cols.resGroup.push(this.group);
    cols.n++;
    this.facts.push({
      tenant: this.tenant, start_time: startTime, service: this.service, name, model: g.model, provider: g.provider, user_id: g.userId,
      status_code: status, duration_ns: durationNs, input_tokens: g.inputTokens, output_tokens: g.outputTokens,
      cached_tokens: g.cachedTokens, cost_usd: costUsd, unpriced: unpriced as 0 | 1, attributes: flagAttributes, events: eventsText,
    });
  }
}

/**
 * Read the spans of a protobuf ExportTraceServiceRequest into `cols`, and
 * their aggregate facts into `facts` (one per row, in row order).
 * On a throw, `cols` and `facts` hold part of the message: the caller rolls
 * them back ({@link SpanColumns.rollback}) and reads it the object path's way.
 * @param tenant the message's project id.
 * @throws NotColumnar (module doc), or any decode error of the request.
 */
export function readSpansInto(body: Uint8Array, tenant: string, cols: SpanColumns, facts: SpanFacts[]): void {
  const [r, view] = readerOf(body);
  new SpanReader(r, view, tenant, cols, facts).request();
}
