/**
 * Prometheus metrics of one Vigil process (prom-client, text exposition format
 * 0.0.4), served at `GET /metrics` by the ingest and query apps.
 *
 * One {@link VigilMetrics} per process, created by platform/lifecycle.ts and
 * passed to the components (no global registry: tests create their own).
 * Names follow Prometheus conventions: `_total` counters, `_seconds`
 * histograms, base units (seconds, bytes). Families (labels in braces):
 *
 * - ingest:     vigil_ingest_requests_total{route,status},
 *               vigil_ingest_request_duration_seconds{route},
 *               vigil_ingest_records_total{signal,outcome=accepted|rejected|rate_limited},
 *               vigil_ingest_rate_limited_total{signal},
 *               vigil_ingest_inflight_requests, vigil_ingest_inflight_bytes,
 *               vigil_auth_failures_total{reason}
 * - Kafka:      vigil_kafka_publish_batches_total{outcome=ok|failed},
 *               vigil_kafka_publish_messages_total, vigil_kafka_publish_bytes_total,
 *               vigil_kafka_publish_duration_seconds
 * - processor:  vigil_processor_messages_total{topic,outcome=stored|dead_lettered},
 *               vigil_processor_lag_messages{topic,partition},
 *               vigil_processor_lag_seconds{topic,partition},
 *               vigil_processor_restarts_total, vigil_processor_up (1 = consuming),
 *               vigil_processor_bisections_total,
 *               vigil_dlq_messages_total{topic}, vigil_dlq_publish_failures_total
 * - insert:     vigil_clickhouse_rows_total{table},
 *               vigil_clickhouse_insert_duration_seconds{table},
 *               vigil_clickhouse_insert_failures_total{table,kind=retryable|permanent}
 * - query:      vigil_query_requests_total{route,status},
 *               vigil_query_duration_seconds{route}
 * plus prom-client's default process metrics (CPU, RSS, event-loop lag, GC).
 */
import client from 'prom-client';

/** Something with in-flight request and byte counts (ingest/body.ts InflightBudget). */
export interface InflightGauges {
  readonly requests: number;
  readonly bytes: number;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The metric families of one process (see module doc). */
export class VigilMetrics {
  readonly registry = new client.Registry();
  readonly contentType = client.Registry.PROMETHEUS_CONTENT_TYPE;

  readonly ingestRequests = new client.Counter({ name: 'vigil_ingest_requests_total', help: 'Ingest HTTP requests by route and status code.', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly ingestDuration = new client.Histogram({ name: 'vigil_ingest_request_duration_seconds', help: 'Ingest request duration (including the wait for the Kafka ack), seconds.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly ingestRecords = new client.Counter({ name: 'vigil_ingest_records_total', help: 'Spans and log records accepted (acked after Kafka) or rejected (partial_success / 400).', labelNames: ['signal', 'outcome'], registers: [this.registry] });
  readonly ingestRateLimited = new client.Counter({ name: 'vigil_ingest_rate_limited_total', help: 'Ingest requests refused with 429 because the project was over its rate limit (ingest/limits-per-project.ts).', labelNames: ['signal'], registers: [this.registry] });
  readonly authFailures = new client.Counter({ name: 'vigil_auth_failures_total', help: 'Failed API key checks by reason.', labelNames: ['reason'], registers: [this.registry] });

  readonly publishBatches = new client.Counter({ name: 'vigil_kafka_publish_batches_total', help: 'Producer flushes by outcome.', labelNames: ['outcome'], registers: [this.registry] });
  readonly publishMessages = new client.Counter({ name: 'vigil_kafka_publish_messages_total', help: 'Messages acknowledged by Kafka.', registers: [this.registry] });
  readonly publishBytes = new client.Counter({ name: 'vigil_kafka_publish_bytes_total', help: 'Uncompressed message value bytes acknowledged by Kafka.', registers: [this.registry] });
  readonly publishDuration = new client.Histogram({ name: 'vigil_kafka_publish_duration_seconds', help: 'Time from flush to Kafka ack, seconds.', buckets: LATENCY_BUCKETS, registers: [this.registry] });

  readonly processorMessages = new client.Counter({ name: 'vigil_processor_messages_total', help: 'Kafka messages processed by outcome.', labelNames: ['topic', 'outcome'], registers: [this.registry] });
  readonly lagMessages = new client.Gauge({ name: 'vigil_processor_lag_messages', help: 'Messages behind the high watermark, per partition (as of the last batch).', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly lagSeconds = new client.Gauge({ name: 'vigil_processor_lag_seconds', help: 'Age of the last processed message while behind, seconds (0 when caught up).', labelNames: ['topic', 'partition'], registers: [this.registry] });
  readonly processorRestarts = new client.Counter({ name: 'vigil_processor_restarts_total', help: 'Consumer restarts after a crash.', registers: [this.registry] });
  readonly processorUp = new client.Gauge({ name: 'vigil_processor_up', help: '1 while the consumer group member is running, 0 otherwise.', registers: [this.registry] });
  readonly bisections = new client.Counter({ name: 'vigil_processor_bisections_total', help: 'Sub-batches split to isolate a permanently rejected insert.', registers: [this.registry] });
  readonly dlqMessages = new client.Counter({ name: 'vigil_dlq_messages_total', help: 'Messages written to a dead-letter topic.', labelNames: ['topic'], registers: [this.registry] });
  readonly dlqFailures = new client.Counter({ name: 'vigil_dlq_publish_failures_total', help: 'Failed dead-letter publishes (retried; offsets not committed meanwhile).', registers: [this.registry] });

  readonly insertRows = new client.Counter({ name: 'vigil_clickhouse_rows_total', help: 'Rows inserted into ClickHouse per table.', labelNames: ['table'], registers: [this.registry] });
  readonly insertDuration = new client.Histogram({ name: 'vigil_clickhouse_insert_duration_seconds', help: 'ClickHouse insert duration per table, seconds.', labelNames: ['table'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly insertFailures = new client.Counter({ name: 'vigil_clickhouse_insert_failures_total', help: 'Failed ClickHouse inserts per table and kind.', labelNames: ['table', 'kind'], registers: [this.registry] });

  readonly queryRequests = new client.Counter({ name: 'vigil_query_requests_total', help: 'Query API requests by route and status code.', labelNames: ['route', 'status'], registers: [this.registry] });
  readonly queryDuration = new client.Histogram({ name: 'vigil_query_duration_seconds', help: 'Query API request duration, seconds.', labelNames: ['route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });

  /**
   * @param opts.defaultMetrics collect prom-client's process metrics (CPU, RSS, GC, event loop); default true.
   */
  constructor(opts: { defaultMetrics?: boolean } = {}) {
    if (opts.defaultMetrics ?? true) client.collectDefaultMetrics({ register: this.registry, prefix: 'vigil_' });
  }

  /** Report an ingest in-flight budget as gauges (read at scrape time). */
  ingestBudget(budget: InflightGauges): void {
    this.registry.removeSingleMetric('vigil_ingest_inflight_requests');
    this.registry.removeSingleMetric('vigil_ingest_inflight_bytes');
    new client.Gauge({ name: 'vigil_ingest_inflight_requests', help: 'Ingest requests holding budget now.', registers: [this.registry], collect() { this.set(budget.requests); } });
    new client.Gauge({ name: 'vigil_ingest_inflight_bytes', help: 'Request body bytes held by ingest now.', registers: [this.registry], collect() { this.set(budget.bytes); } });
  }

  /** Gauges of how far storage is behind intake in this process (platform/storage-backlog.ts). */
  storageDelay(backlog: { delayMs(): number; backlogMessages(): number }): void {
    this.registry.removeSingleMetric('vigil_storage_delay_seconds');
    this.registry.removeSingleMetric('vigil_storage_backlog_messages');
    new client.Gauge({ name: 'vigil_storage_delay_seconds', help: 'Age of the oldest message this process published that its processors have not stored yet, seconds.', registers: [this.registry], collect() { this.set(backlog.delayMs() / 1000); } });
    new client.Gauge({ name: 'vigil_storage_backlog_messages', help: 'Messages this process published that its processors have not stored yet.', registers: [this.registry], collect() { this.set(backlog.backlogMessages()); } });
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
