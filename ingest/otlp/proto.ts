/**
 * OTLP protobuf message types, loaded at run time with protobufjs from the
 * vendored definitions in `schemas/otlp-proto/` (opentelemetry-proto, see its
 * README for the upstream version) — no generated code.
 *
 * The definitions are found relative to the package root (the nearest
 * directory above this module holding package.json), so the same code works
 * from source (`ingest/otlp/proto.ts`) and from `dist/ingest/otlp/proto.js`.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { VigilError } from '../../platform/errors.js';

/** The protobufjs types ingest uses. */
export interface OtlpProto {
  ExportTraceServiceRequest: protobuf.Type;
  ExportTraceServiceResponse: protobuf.Type;
  ExportLogsServiceRequest: protobuf.Type;
  ExportLogsServiceResponse: protobuf.Type;
  /** google.rpc.Status: body of every OTLP/HTTP 4xx/5xx answer (OTLP spec, "Failures"). */
  Status: protobuf.Type;
}

const FILES = [
  'opentelemetry/proto/collector/trace/v1/trace_service.proto',
  'opentelemetry/proto/collector/logs/v1/logs_service.proto',
  'google/rpc/status.proto',
];

/**
 * Directory holding the vendored .proto files.
 * @throws VigilError VIGIL_ERR_CONFIG when no package root with `schemas/otlp-proto` is found.
 */
export function protoDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'schemas', 'otlp-proto'))) {
      return path.join(dir, 'schemas', 'otlp-proto');
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new VigilError('VIGIL_ERR_CONFIG', 'schemas/otlp-proto not found above ingest/otlp: ship the schemas/ folder next to dist/');
    }
    dir = parent;
  }
}

/**
 * Build every message type's constructor now, with a oneof setter that does
 * nothing. protobufjs's generated decoder assigns the virtual oneof property
 * (`m.value = "intValue"` for AnyValue) after each member it reads, and its
 * setter then runs `delete` on every other member: profiled, that was the
 * largest single cost of decoding an OTLP request (≈13 % of a worker's time,
 * the same on ingest). The getter protobufjs installs reads the instance's own
 * keys (last set member wins, as proto3 requires), so it stays correct
 * without the deletes. The override is scoped to this root's set-up and
 * restored at once; other protobufjs users in the process are unaffected.
 */
function setUpWithoutOneofDeletes(root: protobuf.Root): void {
  const util = protobuf.util as unknown as { oneOfSetter: (names: string[]) => (this: object, name: string) => void };
  const original = util.oneOfSetter;
  util.oneOfSetter = () => function noDeletes() {};
  try {
    const visit = (ns: protobuf.NamespaceBase): void => {
      for (const nested of ns.nestedArray) {
        if (nested instanceof protobuf.Type) void nested.ctor; // the ctor setter defines the oneof accessors
        if (nested instanceof protobuf.Namespace) visit(nested);
      }
    };
    visit(root);
  } finally {
    util.oneOfSetter = original;
  }
}

/**
 * Parse the vendored definitions into a fresh protobufjs Root.
 * `google/protobuf/*` imports resolve to protobufjs' bundled common types.
 * @throws VigilError VIGIL_ERR_CONFIG when a file is missing or does not parse.
 */
export function loadOtlpProto(dir: string = protoDir()): OtlpProto {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : path.join(dir, target));
  try {
    root.loadSync(FILES, { keepCase: false });
    root.resolveAll();
    setUpWithoutOneofDeletes(root);
    return {
      ExportTraceServiceRequest: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
      ExportTraceServiceResponse: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
      ExportLogsServiceRequest: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
      ExportLogsServiceResponse: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
      Status: root.lookupType('google.rpc.Status'),
    };
  } catch (err) {
    throw new VigilError('VIGIL_ERR_CONFIG', `cannot load OTLP protobuf definitions from ${dir}: ${(err as Error).message}`, { cause: err });
  }
}

let cached: OtlpProto | undefined;

/** The process-wide {@link OtlpProto}, loaded on first use (call it at start-up to fail fast). */
export function otlpProto(): OtlpProto {
  cached ??= loadOtlpProto();
  return cached;
}

/** Encode a google.rpc.Status `{ code, message }` (code: google.rpc.Code, e.g. 3 INVALID_ARGUMENT). */
export function encodeStatus(code: number, message: string): Uint8Array {
  const { Status } = otlpProto();
  return Status.encode(Status.create({ code, message })).finish();
}
