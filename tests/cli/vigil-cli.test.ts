/**
 * Issue 12, items 3 and 4, through the BUILT binary (`node dist/bin/vigil.js`):
 * a CLI that answers like a tool (--version, --help everywhere, usage errors
 * exit 2 without stack traces, `keys create` prints only the key on stdout)
 * and configuration mistakes that fail in seconds (each run is time-boxed),
 * on one stderr line naming the variable, its value and the fix, exit 1.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, tempDir } from '../support/harness.js';
import { ROOT, buildIfStale, vigil, type Ran } from './support.js';

const USAGE = 2;
const FAILURE = 1;
/** Time box of a run that must fail fast (ms). */
const FEW_SECONDS = 10_000;

beforeAll(async () => {
  await buildIfStale();
});

const noStackTrace = (r: Ran): void => {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stdout).not.toMatch(/^\s+at /m);
};

describe('issue 12 item 4: the CLI answers like a tool', () => {
  it('--version prints the package version on stdout, exit 0', async () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await vigil([flag]);
      expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    }
  });

  it('--help lists every command and the exit codes, exit 0', async () => {
    const r = await vigil(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^Usage: vigil \[options\] \[command\]/);
    for (const cmd of ['start', 'migrate', 'keys', 'ingest', 'process', 'query', 'kafka']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd}\\b`, 'm'));
    expect(r.stdout).toContain('Exit codes: 0 success, 1 runtime or configuration error, 2 usage error.');
  });

  for (const cmd of ['start', 'migrate', 'keys', 'keys create', 'ingest', 'process', 'query', 'kafka', 'kafka start']) {
    it(`vigil ${cmd} --help: its usage on stdout, exit 0`, async () => {
      const r = await vigil([...cmd.split(' '), '--help']);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.startsWith(`Usage: vigil ${cmd} [options]`)).toBe(true);
    });
  }

  it('start --help documents --no-demo; keys create --help documents --project', async () => {
    expect((await vigil(['start', '--help'])).stdout).toContain('--no-demo');
    expect((await vigil(['keys', 'create', '--help'])).stdout).toContain('-p, --project <name>');
  });

  const usageErrors: Array<{ args: string[]; message: string }> = [
    { args: ['--frobnicate'], message: "vigil: error: unknown option '--frobnicate'" },
    { args: ['start', '--no-dmeo'], message: "vigil: error: unknown option '--no-dmeo'" },
    { args: ['frobnicate'], message: "vigil: error: unknown command 'frobnicate'" },
    { args: ['strat'], message: '(Did you mean start?)' },
    { args: ['keys', 'create'], message: "vigil: error: required option '-p, --project <name>' not specified" },
    { args: ['keys', 'create', '--project', ' '], message: 'vigil: error: option --project must not be empty' },
    { args: ['keys', 'create', '--project'], message: "vigil: error: option '-p, --project <name>' argument missing" },
    { args: ['migrate', 'now'], message: 'vigil: error: too many arguments' },
  ];
  for (const u of usageErrors) {
    it(`vigil ${u.args.join(' ')}: usage error on stderr, no stack trace, exit 2`, async () => {
      const r = await vigil(u.args);
      expect(r.code).toBe(USAGE);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(u.message);
      expect(r.stderr).toMatch(/\(run "vigil( [a-z]+)* --help" for usage\)\n$/);
      noStackTrace(r);
    });
  }

  it('vigil without a command: usage on stderr, exit 2', async () => {
    const r = await vigil([]);
    expect(r.code).toBe(USAGE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^Usage: vigil \[options\] \[command\]/);
  });

  it('keys create --project NAME prints only the key on stdout; logs go to stderr', async () => {
    const r = await vigil(['keys', 'create', '--project', 'acme'], { DATABASE_URL: await createTestDatabase(), VIGIL_DATA_DIR: tempDir('cli-keys') }, 60_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^vgl_[0-9a-f]{12}_[A-Za-z0-9_-]{32}\n$/);
    expect(r.stderr).toContain('created a key for project "acme"; it is shown once, store it now');
    expect(r.stderr).toMatch(/^\{"level":30,.*"app":"vigil"/m); // pino JSON log lines (migrations) on stderr
  });

  it('migrate prints its result on stdout and its logs on stderr', async () => {
    const env = { DATABASE_URL: await createTestDatabase(), VIGIL_DATA_DIR: tempDir('cli-migrate') };
    const r = await vigil(['migrate'], env, 120_000);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^postgres: [1-9]\d* applied; clickhouse: [1-9]\d* applied\n$/);
    expect(r.stderr).toMatch(/"app":"vigil"/);
    const again = await vigil(['migrate'], env, 120_000);
    expect(again.stdout).toBe('postgres: 0 applied; clickhouse: 0 applied\n');
  });
});

describe('issue 12 item 3: configuration mistakes fail in seconds with one line naming the variable, the value and the fix', () => {
  const servers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
  });

  const expectConfigError = (r: Ran, needles: string[]): void => {
    expect(r.signal).toBeNull(); // not killed by the time box
    expect(r.code).toBe(FAILURE);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^vigil: VIGIL_ERR_CONFIG: invalid configuration: /);
    for (const n of needles) expect(lines[0]).toContain(n);
    noStackTrace(r);
  };

  const start = (env: Record<string, string>) =>
    vigil(['start', '--no-demo'], { VIGIL_DATA_DIR: tempDir('cli-config'), VIGIL_INGEST_PORT: '0', VIGIL_GRPC_PORT: '0', VIGIL_QUERY_PORT: '0', ...env }, FEW_SECONDS);

  const bad: Array<{ env: Record<string, string>; needles: string[] }> = [
    { env: { KAFKA_BROKERS: 'not_a_host' }, needles: ['KAFKA_BROKERS="not_a_host"', 'host:port', 'localhost:9092'] },
    { env: { KAFKA_BROKERS: 'kafka:port' }, needles: ['KAFKA_BROKERS="kafka:port"', 'port from 1 to 65535'] },
    { env: { CLICKHOUSE_URL: 'clickhouse:8123' }, needles: ['CLICKHOUSE_URL="clickhouse:8123"', 'http://localhost:8123'] },
    { env: { VIGIL_HOST: 'not_a_host' }, needles: ['VIGIL_HOST="not_a_host"', 'set VIGIL_HOST to an address of this machine'] },
    { env: { VIGIL_HOST: 'no-such-host.invalid' }, needles: ['VIGIL_HOST="no-such-host.invalid": does not resolve'] },
    { env: { VIGIL_HOST: '192.0.2.1' }, needles: ['VIGIL_HOST="192.0.2.1": cannot listen on it'] },
    { env: { VIGIL_INGEST_PORT: '43180' + '0' }, needles: ['VIGIL_INGEST_PORT="431800"', 'whole number from 0 to 65535'] },
    { env: { VIGIL_LOG_LEVEL: 'loud' }, needles: ['VIGIL_LOG_LEVEL="loud"'] },
  ];
  for (const b of bad) {
    it(`${Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ')}: exit 1 in seconds`, async () => {
      expectConfigError(await start(b.env), b.needles);
    }, FEW_SECONDS + 5_000);
  }

  it('the README shows exactly what the CLI prints for a bad value and for a port in use', async () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const flat = readme.replace(/\s+/g, ' ');
    const r = await start({ KAFKA_BROKERS: 'not_a_host' });
    expect(readme).toContain(`\n${r.stderr}`);
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
    const port = (server.address() as net.AddressInfo).port;
    const busy = await start({ VIGIL_INGEST_PORT: String(port) });
    const problem = busy.stderr.trim().replace(/^vigil: VIGIL_ERR_CONFIG: invalid configuration: /, '').replaceAll(String(port), '4318');
    expect(flat).toContain(problem);
  }, 2 * FEW_SECONDS + 5_000);

  for (const variable of ['VIGIL_INGEST_PORT', 'VIGIL_QUERY_PORT']) {
    it(`${variable} already in use: exit 1 in seconds, before any slow start-up step`, async () => {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, () => resolve()));
      const port = (server.address() as net.AddressInfo).port;
      const dataDir = tempDir('cli-port');
      const r = await vigil(['start', '--no-demo'], { VIGIL_DATA_DIR: dataDir, VIGIL_INGEST_PORT: '0', VIGIL_GRPC_PORT: '0', VIGIL_QUERY_PORT: '0', [variable]: String(port) }, FEW_SECONDS);
      expectConfigError(r, [`${variable}=${port}: port ${port} on 127.0.0.1 is already in use`, `set ${variable} to a free port`]);
      expect(fs.readdirSync(dataDir)).toEqual([]); // nothing was started
    }, FEW_SECONDS + 5_000);
  }
});
