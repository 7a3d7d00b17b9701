/**
 * Messages between Vigil's process (demo/index.ts) and the instrumented demo
 * child process (demo/main.ts), sent over the Node IPC channel.
 */
import type { OtlpProtocol } from './telemetry.js';

/** Everything the child needs; sent once, first, as `{ type: 'config' }`. */
export interface DemoChildConfig {
  /** OTLP/HTTP base URL, e.g. `http://127.0.0.1:4318` (signal paths are appended). */
  endpoint: string;
  /** Vigil API key (sent as `Authorization: Bearer <key>`). */
  apiKey: string;
  /** OTLP encoding. */
  protocol: OtlpProtocol;
  /** Postgres URL of the database the demo may create schema `vigil_demo` in. */
  databaseUrl: string;
  /** `service.name` of the demo's telemetry. */
  serviceName: string;
  /** Port of the demo HTTP service; 0 picks a free one. */
  port: number;
  /** Run the load generator in the child. */
  load: boolean;
  /** Batch export delay, ms. */
  scheduledDelayMillis: number;
  /** Vigil's query API (OFREP) base URL; when set, /chat picks its model with the demo flag (demo/flags.ts). */
  ofrepUrl?: string;
}

/** Parent → child. */
export type ToChild = { type: 'config'; config: DemoChildConfig } | { type: 'stop' };

/** Child → parent. */
export type FromChild =
  | { type: 'ready'; url: string }
  | { type: 'log'; level: 'debug' | 'info' | 'warn' | 'error'; msg: string; data?: Record<string, unknown> }
  | { type: 'stopped' };
