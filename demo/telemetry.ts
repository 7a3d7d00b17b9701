/**
 * OpenTelemetry SDK set-up for the demo service (runs only inside the demo
 * child process, see demo/main.ts and demo/index.ts).
 *
 * Why explicit providers instead of `NodeSDK`: `@opentelemetry/sdk-node@0.223.0`
 * pins `sdk-logs`/`api-logs`/exporters `0.223.0` and `sdk-trace-base`/`core`/
 * `resources` `2.12.0` exactly, while the top-level packages installed in this
 * repo are `0.223.1`/`2.12.1`; using NodeSDK would load two copies of the SDK.
 * Building the TracerProvider and LoggerProvider here from the top-level
 * packages uses exactly one, mutually compatible set (the same thing NodeSDK
 * does internally: providers + batch processors + OTLP exporters + context
 * manager + W3C propagator + instrumentations).
 *
 * ESM: the demo service is an ES module, so `pg` and `node:http` are patched
 * through import-in-the-middle (`@opentelemetry/instrumentation/hook.mjs`,
 * registered with `module.register`). Modules to be instrumented must be
 * imported AFTER {@link startTelemetry} resolves (main.ts uses dynamic import).
 */
import { register } from 'node:module';
import { createAddHookMessageChannel } from 'import-in-the-middle';
import {
  context,
  diag,
  DiagLogLevel,
  propagation,
  trace,
  type DiagLogger,
} from '@opentelemetry/api';
import { logs } from '@opentelemetry/api-logs';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
} from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OTLPTraceExporter as OTLPTraceExporterProto } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OTLPTraceExporterJson } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPLogExporter as OTLPLogExporterProto } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPLogExporter as OTLPLogExporterJson } from '@opentelemetry/exporter-logs-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import {
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} from '@opentelemetry/semantic-conventions';

/** OTLP/HTTP encodings the demo can export with. */
export type OtlpProtocol = 'http/protobuf' | 'http/json';

/** Options of {@link startTelemetry}. */
export interface TelemetryOptions {
  /** OTLP/HTTP base URL without signal path, e.g. `http://127.0.0.1:4318`; `/v1/traces` and `/v1/logs` are appended. */
  endpoint: string;
  /** Vigil API key, sent as `Authorization: Bearer <apiKey>` on every export. */
  apiKey: string;
  /** `http/protobuf` (Content-Type application/x-protobuf) or `http/json` (application/json). */
  protocol: OtlpProtocol;
  /** `service.name` resource attribute. */
  serviceName: string;
  /** Batch processor schedule delay, ms (default 250). */
  scheduledDelayMillis?: number;
  /** Receives SDK diagnostics (export failures etc.) at warn/error level. */
  onDiagnostic?: (level: 'warn' | 'error', message: string) => void;
}

/** Handle returned by {@link startTelemetry}. */
export interface Telemetry {
  /** Export everything buffered in the batch processors now (traces and logs). */
  forceFlush(): Promise<void>;
  /** Disable instrumentations, flush, and shut the providers down. Idempotent. */
  shutdown(): Promise<void>;
}

/**
 * Install the OpenTelemetry SDK for this process: global tracer provider,
 * global logger provider (`@opentelemetry/api-logs`), AsyncLocalStorage
 * context manager, W3C trace-context + baggage propagation, OTLP/HTTP
 * exporters (protobuf or JSON) for traces and logs, and the http (server and
 * client), undici (fetch) and pg instrumentations.
 *
 * Must be called once per process, before `pg`/`node:http` are imported by
 * the code to be instrumented. Never call it in Vigil's own process: it would
 * trace Vigil's HTTP servers and clients (demo/index.ts runs it in a child).
 * @returns flush/shutdown handle. Export failures are not thrown; they go to `onDiagnostic`.
 */
export async function startTelemetry(opts: TelemetryOptions): Promise<Telemetry> {
  // 1. ESM hook first, so instrumentations registered below can patch ES modules.
  const { registerOptions, waitForAllMessagesAcknowledged } = createAddHookMessageChannel();
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, registerOptions);

  if (opts.onDiagnostic) diag.setLogger(diagLogger(opts.onDiagnostic), DiagLogLevel.WARN);

  const base = opts.endpoint.replace(/\/+$/, '');
  const headers = { Authorization: `Bearer ${opts.apiKey}` };
  const delay = opts.scheduledDelayMillis ?? 250;
  const resource = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: opts.serviceName,
    [ATTR_SERVICE_VERSION]: '0.1.0',
    'deployment.environment.name': 'demo',
  });

  const traceExporter =
    opts.protocol === 'http/protobuf'
      ? new OTLPTraceExporterProto({ url: `${base}/v1/traces`, headers })
      : new OTLPTraceExporterJson({ url: `${base}/v1/traces`, headers });
  const logExporter =
    opts.protocol === 'http/protobuf'
      ? new OTLPLogExporterProto({ url: `${base}/v1/logs`, headers })
      : new OTLPLogExporterJson({ url: `${base}/v1/logs`, headers });

  const tracerProvider = new BasicTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(traceExporter, { scheduledDelayMillis: delay })],
  });
  const loggerProvider = new LoggerProvider({
    resource,
    processors: [new BatchLogRecordProcessor({ exporter: logExporter, scheduledDelayMillis: delay })],
  });

  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(
    new CompositePropagator({
      propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
    }),
  );
  trace.setGlobalTracerProvider(tracerProvider);
  logs.setGlobalLoggerProvider(loggerProvider);

  const unregister = registerInstrumentations({
    tracerProvider,
    instrumentations: [
      new HttpInstrumentation({
        // The fake model endpoint stands in for an external provider (OpenAI):
        // a real provider does not report its server spans into our tenant.
        ignoreIncomingRequestHook: (req) => (req.url ?? '').startsWith('/fake-llm/'),
      }),
      new UndiciInstrumentation(),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  await waitForAllMessagesAcknowledged();

  let stopped: Promise<void> | undefined;
  return {
    async forceFlush() {
      await Promise.all([tracerProvider.forceFlush(), loggerProvider.forceFlush()]);
    },
    shutdown() {
      stopped ??= (async () => {
        unregister();
        // shutdown() flushes the batch processors before closing the exporters.
        await Promise.allSettled([tracerProvider.shutdown(), loggerProvider.shutdown()]);
        trace.disable();
        logs.disable();
        context.disable();
        propagation.disable();
      })();
      return stopped;
    },
  };
}

/** Adapts OTel `diag` output (warn and error only) to a `(level, message)` callback. */
function diagLogger(sink: (level: 'warn' | 'error', message: string) => void): DiagLogger {
  const fmt = (message: string, args: unknown[]): string =>
    [message, ...args.map((a) => errorMessage(a) ?? safeString(a))].join(' ');
  const noop = (): void => {};
  return {
    error: (m, ...a) => sink('error', fmt(m, a)),
    warn: (m, ...a) => sink('warn', fmt(m, a)),
    info: noop,
    debug: noop,
    verbose: noop,
  };
}

/** `message` of an Error or of a serialized error object (the OTLP exporters pass both). */
function errorMessage(value: unknown): string | undefined {
  if (value instanceof Error) return value.message;
  if (typeof value === 'object' && value !== null && typeof (value as { message?: unknown }).message === 'string') {
    return (value as { message: string }).message;
  }
  return undefined;
}

function safeString(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
