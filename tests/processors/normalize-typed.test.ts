/**
 * Issue 8: normalisation keeps OTLP value types (attribute texts and type
 * codes, migration 0016 — the typed maps of 0007 are ALIAS columns over them), links,
 * dropped counts, trace state, flags, schema URLs, scope attributes and the
 * log body's type — for OTLP input (JSON envelopes and raw protobuf) and native
 * input (JSON types).
 */
import { describe, expect, it } from 'vitest';
import { otlpProto } from '../../ingest/otlp/proto.js';
import { decodeTracesProtobuf } from '../../ingest/otlp/decode.js';
import { ATTRIBUTE_TYPE as T, flattenKeyValuesTyped, flattenPlainTyped } from '../../processors/normalize/attributes.js';
import { processBatch } from '../../processors/worker.js';
import type { Envelope } from '../../schemas/envelope.js';
import { nowNs, str } from './fixtures.js';

describe('typed attributes', () => {
  it('keeps every value once as text, with a type code for each non-string key (the last duplicate decides)', () => {
    const f = flattenKeyValuesTyped([
      str('s', 'x'),
      { key: 'i', value: { intValue: '-9223372036854775808' } },
      { key: 'd', value: { doubleValue: 0.5 } },
      { key: 'nan', value: { doubleValue: Number.NaN } },
      { key: 'inf', value: { doubleValue: Number.NEGATIVE_INFINITY } },
      { key: 'b', value: { boolValue: true } },
      { key: 'bytes', value: { bytesValue: 'AQID' } },
      { key: 'arr', value: { arrayValue: { values: [{ intValue: '1' }, { stringValue: 'a' }, { doubleValue: Number.NaN }] } } },
      { key: 'kv', value: { kvlistValue: { values: [{ key: 'big', value: { intValue: '9007199254740993' } }] } } },
      { key: 'empty', value: {} },
      { key: 'dup', value: { intValue: '1' } },
      { key: 'dup', value: { stringValue: 'later' } },
      { key: 'dup2', value: { stringValue: 'first' } },
      { key: 'dup2', value: { boolValue: false } },
    ]);
    expect(f.all).toEqual({
      s: 'x', i: '-9223372036854775808', d: '0.5', nan: 'NaN', inf: '-Infinity', b: 'true', bytes: 'AQID',
      arr: '[1,"a","NaN"]', kv: '{"big":"9007199254740993"}', empty: '', dup: 'later', dup2: 'false',
    });
    expect(f.types).toEqual({ i: T.int, d: T.double, nan: T.double, inf: T.double, b: T.bool, arr: T.json, kv: T.json, empty: T.empty, dup2: T.bool });
  });

  it('an intValue that is not an Int64 (a message from an older version) keeps its text as a string attribute', () => {
    const f = flattenKeyValuesTyped([
      { key: 'big', value: { intValue: '99999999999999999999' } },
      { key: 'over', value: { intValue: '9223372036854775808' } },
      { key: 'frac', value: { intValue: 1.5 } },
      { key: 'max', value: { intValue: '9223372036854775807' } },
    ]);
    expect(f.all).toEqual({ big: '99999999999999999999', over: '9223372036854775808', frac: '1.5', max: '9223372036854775807' });
    expect(f.types).toEqual({ max: T.int });
  });

  it('native attributes are typed by their JSON type', () => {
    const f = flattenPlainTyped({ s: 'x', n: 3, f: 1.5, huge: 1e300, b: false, a: [1], o: { k: 1 }, z: null, u: undefined });
    expect(f.types).toEqual({
      n: T.int, f: T.double, huge: T.double, b: T.bool, a: T.json, o: T.json, z: T.empty,
    });
    expect(f.all).toEqual({ s: 'x', n: '3', f: '1.5', huge: '1e+300', b: 'false', a: '[1]', o: '{"k":1}', z: '' });
  });
});

describe('span and log rows', () => {
  const start = nowNs();
  const resource = { attributes: [str('service.name', 'api'), { key: 'host.cpus', value: { intValue: '8' } }], droppedAttributesCount: 2, schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' };
  const scope = { name: 'lib', version: '1.0', attributes: [{ key: 'lib.flag', value: { boolValue: true } }], droppedAttributesCount: 1, schemaUrl: 'https://example.com/s' };

  it('OTLP span: typed maps, links, dropped counts, trace state, flags, schema URLs, scope attributes, typed event attributes', () => {
    const env: Envelope = {
      v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'spans', format: 'otlp', resource, scope,
      records: [{
        traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'op', kind: 2, traceState: 'k=v', flags: 0x301,
        startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1000n),
        attributes: [{ key: 'code', value: { intValue: '503' } }], droppedAttributesCount: 4,
        events: [{ timeUnixNano: String(start), name: 'e', attributes: [{ key: 'n', value: { intValue: '2' } }], droppedAttributesCount: 1 }], droppedEventsCount: 5,
        links: [{ traceId: 'EF'.repeat(16), spanId: '12'.repeat(8), traceState: 'x=y', attributes: [{ key: 'r', value: { doubleValue: 0.5 } }], droppedAttributesCount: 3, flags: 1 }], droppedLinksCount: 6,
      }],
    };
    const { spans, rejected } = processBatch([JSON.stringify(env)]);
    expect(rejected).toEqual([]);
    expect(spans[0]).toMatchObject({
      attributes: { code: '503' }, attributes_types: { code: T.int }, attributes_format: 1,
      resource_attributes: { 'service.name': 'api', 'host.cpus': '8' }, resource_attributes_types: { 'host.cpus': T.int },
      trace_state: 'k=v', flags: 0x301, dropped_attributes_count: 4, dropped_events_count: 5, dropped_links_count: 6,
      resource_dropped_attributes_count: 2, resource_schema_url: 'https://opentelemetry.io/schemas/1.26.0',
      scope_attributes: '{"lib.flag":true}', scope_dropped_attributes_count: 1, scope_schema_url: 'https://example.com/s',
    });
    expect(JSON.parse(spans[0]!.links!)).toEqual([{ trace_id: 'ef'.repeat(16), span_id: '12'.repeat(8), trace_state: 'x=y', attributes: { r: 0.5 }, dropped_attributes_count: 3, flags: 1 }]);
    expect(JSON.parse(spans[0]!.events)).toEqual([{ time_unix_nano: String(start), name: 'e', attributes: { n: 2 }, dropped_attributes_count: 1 }]);
  });

  it('counts that do not fit UInt32 (hostile OTLP/JSON) are stored as 0 instead of failing the insert', () => {
    const env: Envelope = {
      v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'spans', format: 'otlp', resource: {}, scope: {},
      records: [{ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'op', startTimeUnixNano: String(start), endTimeUnixNano: String(start), droppedAttributesCount: -1, droppedLinksCount: 2 ** 40, flags: 1.5 }],
    };
    expect(processBatch([env]).spans[0]).toMatchObject({ dropped_attributes_count: 0, dropped_links_count: 0, flags: 0 });
  });

  it('a protobuf request keeps what the JSON shapes keep (decode → normalise)', () => {
    const { ExportTraceServiceRequest } = otlpProto();
    const bytes = ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject({
      resourceSpans: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }], droppedAttributesCount: 2, entityRefs: [{ type: 'service', idKeys: ['service.name'] }] },
        schemaUrl: 'https://r',
        scopeSpans: [{
          scope: { name: 'lib', droppedAttributesCount: 1 }, schemaUrl: 'https://s',
          spans: [{
            traceId: Buffer.from('ab'.repeat(16), 'hex'), spanId: Buffer.from('cd'.repeat(8), 'hex'), name: 'op', traceState: 'k=v', flags: 0x101,
            startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1n), droppedAttributesCount: 3, droppedEventsCount: 4, droppedLinksCount: 5,
            links: [{ traceId: Buffer.from('ef'.repeat(16), 'hex'), spanId: Buffer.from('12'.repeat(8), 'hex'), traceState: 'x=y', droppedAttributesCount: 6, flags: 1 }],
          }],
        }],
      }],
    })).finish();
    const decoded = decodeTracesProtobuf(bytes);
    expect(decoded.resourceSpans[0]!.resource).toMatchObject({ droppedAttributesCount: 2, schemaUrl: 'https://r', entityRefsCount: 1 });
    expect(decoded.resourceSpans[0]!.scopeSpans[0]!.scope).toMatchObject({ droppedAttributesCount: 1, schemaUrl: 'https://s' });
    const { spans } = processBatch([{ offset: '0', raw: bytes, meta: { tenant: 't', format: 'otlp-proto', kind: 'spans', receivedAtMs: Date.now() } }]);
    expect(spans[0]).toMatchObject({ trace_state: 'k=v', flags: 0x101, dropped_attributes_count: 3, dropped_events_count: 4, dropped_links_count: 5, resource_schema_url: 'https://r', scope_schema_url: 'https://s', resource_dropped_attributes_count: 2, scope_dropped_attributes_count: 1 });
    expect(JSON.parse(spans[0]!.links!)).toEqual([{ trace_id: 'ef'.repeat(16), span_id: '12'.repeat(8), trace_state: 'x=y', attributes: {}, dropped_attributes_count: 6, flags: 1 }]);
  });

  it('OTLP log: body_type names the AnyValue member; flags, dropped count, event name, scope version kept', () => {
    const rec = (body: object, extra: object = {}) => ({ timeUnixNano: String(start), body, attributes: [{ key: 'n', value: { intValue: '5' } }], ...extra });
    const env: Envelope = {
      v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'logs', format: 'otlp', resource, scope,
      records: [
        rec({ kvlistValue: { values: [{ key: 'order', value: { intValue: '42' } }] } }, { flags: 1, droppedAttributesCount: 2, eventName: 'checkout.done' }),
        rec({ arrayValue: { values: [{ boolValue: true }] } }),
        rec({ intValue: '7' }), rec({ doubleValue: 0.5 }), rec({ boolValue: false }), rec({ bytesValue: 'AQID' }), rec({ stringValue: 's' }), rec({}),
      ],
    };
    const { logs, rejected } = processBatch([env]);
    expect(rejected).toEqual([]);
    expect(logs.map((l) => [l.body_type, l.body])).toEqual([
      ['kvlist', '{"order":42}'], ['array', '[true]'], ['int', '7'], ['double', '0.5'], ['bool', 'false'], ['bytes', 'AQID'], ['string', 's'], ['empty', ''],
    ]);
    expect(logs[0]).toMatchObject({ flags: 1, dropped_attributes_count: 2, event_name: 'checkout.done', scope_version: '1.0', attributes_types: { n: T.int }, attributes: { n: '5', 'event.name': 'checkout.done' } });
  });

  it('native span and log: type codes from JSON types; fields that overwrite an attribute with a string drop its code', () => {
    const { spans, logs } = processBatch([
      { v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'spans', format: 'native', records: [{ trace_id: 'ab'.repeat(16), span_id: 'cd'.repeat(8), name: 'n', service: 'svc', kind: 'internal', start_time: Date.now() - 1000, duration_ms: 5, attributes: { n: 1, f: 0.5, ok: true, s: 'x', 'error.type': 7 }, error_type: 'E', resource: { 'service.name': null } } as never] },
      { v: 1, tenant: 't', receivedAtMs: Date.now(), kind: 'logs', format: 'native', records: [{ time: Date.now() - 1000, body: 'b', service: 'svc', attributes: { n: 2 } } as never] },
    ]);
    expect(spans[0]).toMatchObject({
      attributes: { n: '1', f: '0.5', ok: 'true', s: 'x', 'error.type': 'E' }, attributes_types: { n: T.int, f: T.double, ok: T.bool },
      resource_attributes: { 'service.name': 'svc' }, resource_attributes_types: {}, attributes_format: 1,
    });
    expect(logs[0]).toMatchObject({ body_type: 'string', attributes_types: { n: T.int }, resource_attributes: { 'service.name': 'svc' }, resource_attributes_types: {} });
  });
});
