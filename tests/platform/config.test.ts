/**
 * Issue 12, item 3: "Configuration mistakes answer slowly or with stack traces".
 * loadConfig (zod) rejects each bad value at once with a message naming the
 * variable, its value and the fix; checkStartup finds an unresolvable or
 * foreign VIGIL_HOST and ports in use in seconds (each test is time-boxed
 * with its vitest timeout). Also item 5's consumer group id derivation.
 */
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkStartup, consumerGroupFor, loadConfig, parseHostPort } from '../../platform/config.js';
import { VigilError } from '../../platform/errors.js';
import { tempDir } from '../support/harness.js';

const FEW_SECONDS = 8_000;

/** The VigilError loadConfig / checkStartup threw (fails the test if none). */
async function configError(fn: () => unknown): Promise<VigilError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VigilError);
    return err as VigilError;
  }
  throw new Error('expected a configuration error');
}

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A port something is listening on (127.0.0.1). */
async function busyPort(): Promise<number> {
  const server = net.createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
  return (server.address() as net.AddressInfo).port;
}

describe('issue 12 item 3: configuration mistakes are named with the variable, the value and the fix', () => {
  const cases: Array<{ env: Record<string, string>; variable: string; shown: string; fix: RegExp }> = [
    { env: { KAFKA_BROKERS: 'not_a_host' }, variable: 'KAFKA_BROKERS', shown: '"not_a_host"', fix: /host:port pairs \(e\.g\. localhost:9092\)/ },
    { env: { KAFKA_BROKERS: 'localhost:99999' }, variable: 'KAFKA_BROKERS', shown: '"localhost:99999"', fix: /port from 1 to 65535/ },
    { env: { KAFKA_BROKERS: 'localhost:9092,broker2' }, variable: 'KAFKA_BROKERS', shown: '"localhost:9092,broker2"', fix: /"broker2" is not host:port/ },
    { env: { KAFKA_BROKERS: 'localhost:0' }, variable: 'KAFKA_BROKERS', shown: '"localhost:0"', fix: /port from 1 to 65535/ },
    { env: { CLICKHOUSE_URL: 'localhost:8123' }, variable: 'CLICKHOUSE_URL', shown: '"localhost:8123"', fix: /http:\/\/localhost:8123, or unset it to use embedded chDB/ },
    { env: { CLICKHOUSE_URL: 'tcp://clickhouse:9000' }, variable: 'CLICKHOUSE_URL', shown: '"tcp://clickhouse:9000"', fix: /not an http\(s\) URL/ },
    { env: { DATABASE_URL: 'mysql://db/vigil' }, variable: 'DATABASE_URL', shown: '"mysql://db/vigil"', fix: /postgres:\/\/user:password@localhost:5432\/vigil/ },
    { env: { VIGIL_HOST: 'not a host' }, variable: 'VIGIL_HOST', shown: '"not a host"', fix: /127\.0\.0\.1 \(this machine only\) or 0\.0\.0\.0/ },
    { env: { VIGIL_INGEST_PORT: 'http' }, variable: 'VIGIL_INGEST_PORT', shown: '"http"', fix: /whole number from 0 to 65535/ },
    { env: { VIGIL_QUERY_PORT: '70000' }, variable: 'VIGIL_QUERY_PORT', shown: '"70000"', fix: /free TCP port/ },
    { env: { VIGIL_QUERY_PORT: '4318' }, variable: 'VIGIL_QUERY_PORT', shown: '4318', fix: /need different ports/ },
    { env: { VIGIL_LOG_LEVEL: 'verbose' }, variable: 'VIGIL_LOG_LEVEL', shown: '"verbose"', fix: /one of fatal, error, warn, info, debug, trace, silent/ },
    { env: { VIGIL_WORKER_THREADS: '0' }, variable: 'VIGIL_WORKER_THREADS', shown: '"0"', fix: /Piscina thread count/ },
    { env: { VIGIL_API_KEY: 'secret-key' }, variable: 'VIGIL_API_KEY', shown: '(hidden)', fix: /vgl_<12 lowercase hex>_<32 base64url characters>/ },
    { env: { CLICKHOUSE_DATABASE: 'my-db' }, variable: 'CLICKHOUSE_DATABASE', shown: '"my-db"', fix: /letters, digits and underscores/ },
    { env: { VIGIL_HEAP_GROWING_PERCENT: '4x' }, variable: 'VIGIL_HEAP_GROWING_PERCENT', shown: '"4x"', fix: /0 to 1000 \(0 = V8 decides; default 300\)/ },
  ];
  for (const c of cases) {
    it(`${c.variable}=${c.shown}: rejected at once, naming it`, async () => {
      const err = await configError(() => loadConfig(c.env));
      expect(err.code).toBe('VIGIL_ERR_CONFIG');
      expect(err.message).toContain(`${c.variable}=${c.shown}`);
      expect(err.message).toMatch(c.fix);
      expect(err.message).not.toContain('\n');
    }, FEW_SECONDS);
  }

  it('every bad variable is named in one message', async () => {
    const err = await configError(() => loadConfig({ KAFKA_BROKERS: 'x', CLICKHOUSE_URL: 'y', VIGIL_INGEST_PORT: '-1' }));
    expect(err.message).toMatch(/^invalid configuration: /);
    for (const v of ['KAFKA_BROKERS="x"', 'CLICKHOUSE_URL="y"', 'VIGIL_INGEST_PORT="-1"']) expect(err.message).toContain(v);
  });

  it('never echoes a password from a URL', async () => {
    const err = await configError(() => loadConfig({ CLICKHOUSE_URL: 'ftp://admin:s3cret@ch:8123' }));
    expect(err.message).toContain('"ftp://admin:***@ch:8123"');
    expect(err.message).not.toContain('s3cret');
  });

  it('accepts good values: broker lists with IPv6, http(s) URLs, blank = unset', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'kafka1:9092, 10.0.0.2:9093,[::1]:9094',
      CLICKHOUSE_URL: 'https://user:pw@ch.example.com:8443',
      DATABASE_URL: 'postgresql://vigil@db/vigil',
      VIGIL_INGEST_PORT: ' ',
      VIGIL_HOST: '::',
    });
    expect(c.kafka.brokers).toEqual(['kafka1:9092', '10.0.0.2:9093', '[::1]:9094']);
    expect(c.ingest.port).toBe(4318);
    expect(c.host).toBe('::');
    expect(parseHostPort('[::1]:9094')).toEqual({ host: '::1', port: 9094 });
    expect(parseHostPort('kafka')).toBeUndefined();
  });

  it('checkStartup: a port in use is named (VIGIL_INGEST_PORT) with the fix, in seconds', async () => {
    const port = await busyPort();
    const config = loadConfig({ VIGIL_INGEST_PORT: String(port), VIGIL_QUERY_PORT: '0' });
    const err = await configError(() => checkStartup(config, { listen: [{ variable: 'VIGIL_INGEST_PORT', port }, { variable: 'VIGIL_QUERY_PORT', port: 0 }], servers: [] }));
    expect(err.message).toContain(`VIGIL_INGEST_PORT=${port}: port ${port} on 127.0.0.1 is already in use`);
    expect(err.message).toContain(`set VIGIL_INGEST_PORT to a free port (0 picks one)`);
  }, FEW_SECONDS);

  it('checkStartup: VIGIL_QUERY_PORT in use is named too', async () => {
    const port = await busyPort();
    const config = loadConfig({ VIGIL_INGEST_PORT: '0', VIGIL_QUERY_PORT: String(port) });
    const err = await configError(() => checkStartup(config, { listen: [{ variable: 'VIGIL_QUERY_PORT', port }], servers: [] }));
    expect(err.message).toContain(`VIGIL_QUERY_PORT=${port}: port ${port} on 127.0.0.1 is already in use`);
  }, FEW_SECONDS);

  it('checkStartup: a VIGIL_HOST that does not resolve fails in seconds', async () => {
    const config = loadConfig({ VIGIL_HOST: 'no-such-host.invalid' });
    const err = await configError(() => checkStartup(config, { listen: [{ variable: 'VIGIL_INGEST_PORT', port: 0 }], servers: [], timeoutMs: 3000 }));
    expect(err.message).toMatch(/^invalid configuration: VIGIL_HOST="no-such-host\.invalid": does not resolve \((ENOTFOUND|EAI_AGAIN|ETIMEDOUT)\) — set VIGIL_HOST to/);
  }, FEW_SECONDS);

  it('checkStartup: a VIGIL_HOST that is not an address of this machine fails in seconds', async () => {
    const config = loadConfig({ VIGIL_HOST: '192.0.2.1' }); // TEST-NET-1, never local
    const err = await configError(() => checkStartup(config, { listen: [{ variable: 'VIGIL_INGEST_PORT', port: 0 }], servers: [] }));
    expect(err.message).toMatch(/VIGIL_HOST="192\.0\.2\.1": cannot listen on it \(EADDRNOTAVAIL/);
  }, FEW_SECONDS);

  it('checkStartup: a broker host that does not exist is named', async () => {
    const config = loadConfig({ KAFKA_BROKERS: 'kafka.no-such-domain.invalid:9092' });
    try {
      await checkStartup(config, { listen: [], servers: ['kafka'], timeoutMs: 3000 });
    } catch (err) {
      // Only a definite "no such name" fails; a sandbox without DNS answers EAI_AGAIN and passes.
      expect((err as VigilError).message).toContain('KAFKA_BROKERS="kafka.no-such-domain.invalid:9092": host "kafka.no-such-domain.invalid" does not resolve (ENOTFOUND)');
    }
  }, FEW_SECONDS);

  it('checkStartup: free ports and a local host pass', async () => {
    const config = loadConfig({ VIGIL_HOST: 'localhost', VIGIL_INGEST_PORT: '0', VIGIL_QUERY_PORT: '0' });
    await expect(checkStartup(config, { listen: [{ variable: 'VIGIL_INGEST_PORT', port: 0 }], servers: [] })).resolves.toBeUndefined();
  }, FEW_SECONDS);
});

describe('issue 12 item 5: the consumer group id of an embedded-ClickHouse instance comes from its data directory', () => {
  it('embedded ClickHouse: vigil-processors-<hash of the data dir>, stable per dir, different across dirs', () => {
    const a = tempDir('group-a');
    const b = tempDir('group-b');
    const ca = loadConfig({ VIGIL_DATA_DIR: a });
    expect(ca.kafka.consumerGroup).toMatch(/^vigil-processors-[0-9a-f]{10}$/);
    expect(ca.kafka.consumerGroupSource).toBe('data-dir');
    expect(loadConfig({ VIGIL_DATA_DIR: path.join(a, '.') }).kafka.consumerGroup).toBe(ca.kafka.consumerGroup);
    expect(loadConfig({ VIGIL_DATA_DIR: b }).kafka.consumerGroup).not.toBe(ca.kafka.consumerGroup);
  });

  it('a ClickHouse server: the shared vigil-processors group; VIGIL_KAFKA_CONSUMER_GROUP wins over both', () => {
    expect(loadConfig({ CLICKHOUSE_URL: 'http://ch:8123' }).kafka).toMatchObject({ consumerGroup: 'vigil-processors', consumerGroupSource: 'default' });
    expect(loadConfig({ VIGIL_KAFKA_CONSUMER_GROUP: 'mine' }).kafka).toMatchObject({ consumerGroup: 'mine', consumerGroupSource: 'explicit' });
    expect(consumerGroupFor('g', '/x', true)).toEqual({ id: 'g', source: 'explicit' });
  });
});
