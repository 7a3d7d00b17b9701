/**
 * Resolve the Apache Kafka broker jars (`org.apache.kafka:kafka_2.13:<version>`
 * and its runtime dependencies, plus a reload4j logging backend) from Maven
 * Central with the system `mvn`, into a per-version cache directory.
 *
 * Layout under `cacheDir`:
 * - `kafka-<version>/pom.xml`   the tiny pom Maven resolves (copy; each resolve works in `.resolve-*`)
 * - `kafka-<version>/libs/*.jar` the broker classpath
 * - `kafka-<version>/.complete` marker written after a successful resolve
 * - `m2/`                        Maven's local repository (kept, so re-resolves are offline-fast)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { VigilError } from '../errors.js';

const execFileAsync = promisify(execFile);

/** slf4j binding + log4j 1.x API (reload4j) the broker logs through; matches Kafka 3.x's own distribution. */
const LOGGING_DEPS = [
  { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' },
  { groupId: 'ch.qos.reload4j', artifactId: 'reload4j', version: '1.2.25' },
];

/**
 * The project cache directory, `<repo>/.cache/vigil`, where `<repo>` is the
 * nearest ancestor of this module holding a package.json (works from the
 * sources under tsx and from a compiled dist/).
 */
export function defaultCacheDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && !dir.endsWith(`${path.sep}dist`)) break;
    const parent = path.dirname(dir);
    if (parent === dir) {
      dir = process.cwd();
      break;
    }
    dir = parent;
  }
  return path.join(dir, '.cache', 'vigil');
}

/** Where the jars of one Kafka version live. */
export interface KafkaJars {
  /** `<cacheDir>/kafka-<version>`. */
  home: string;
  /** `<home>/libs`, every jar of the broker classpath. */
  libsDir: string;
  /** Java classpath string (`<libsDir>/*`). */
  classpath: string;
  /** true when the jars were already cached and Maven was not run. */
  cached: boolean;
}

function pomXml(version: string): string {
  const dep = (g: string, a: string, v: string): string =>
    `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<project xmlns="http://maven.apache.org/POM/4.0.0">',
    '  <modelVersion>4.0.0</modelVersion>',
    '  <groupId>dev.vigil.local</groupId>',
    `  <artifactId>vigil-kafka-${version}</artifactId>`,
    '  <version>1</version>',
    '  <packaging>pom</packaging>',
    '  <dependencies>',
    dep('org.apache.kafka', 'kafka_2.13', version),
    ...LOGGING_DEPS.map((d) => dep(d.groupId, d.artifactId, d.version)),
    '  </dependencies>',
    '</project>',
    '',
  ].join('\n');
}

/**
 * Make sure the broker jars for `version` are in the cache, running Maven if not.
 * @param opts.version Apache Kafka version, e.g. '3.9.1' (kafkajs 2.2.4 needs ≤ 3.9.x).
 * @param opts.cacheDir project cache directory, e.g. `<repo>/.cache/vigil`.
 * @param opts.log logger for progress lines.
 * @returns the jar locations.
 * @throws VigilError VIGIL_ERR_KAFKA_LOCAL when Maven fails (message carries Maven's output tail).
 */
export async function resolveKafkaJars(opts: {
  version: string;
  cacheDir: string;
  log: Logger;
}): Promise<KafkaJars> {
  if (!/^[0-9A-Za-z.-]+$/.test(opts.version)) {
    throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', `invalid Kafka version '${opts.version}'`);
  }
  const cacheDir = path.resolve(opts.cacheDir);
  const home = path.join(cacheDir, `kafka-${opts.version}`);
  const libsDir = path.join(home, 'libs');
  const marker = path.join(home, '.complete');
  const result = { home, libsDir, classpath: path.join(libsDir, '*') };
  if (fs.existsSync(marker)) return { ...result, cached: true };
  // libs/ only ever appears through an atomic rename of a complete download
  // (possibly by a concurrent process that has not written the marker yet).
  if (hasKafkaJar(libsDir, opts.version)) {
    writeMarker(marker, libsDir);
    return { ...result, cached: true };
  }

  fs.mkdirSync(home, { recursive: true });
  // Each attempt works in its own directory, so concurrent resolvers (e.g. the
  // CLI and the test harness) never see each other's partial downloads.
  const work = fs.mkdtempSync(path.join(home, '.resolve-'));
  const workLibs = path.join(work, 'libs');
  const pom = path.join(work, 'pom.xml');
  fs.writeFileSync(pom, pomXml(opts.version));
  fs.copyFileSync(pom, path.join(home, 'pom.xml'));
  const started = Date.now();
  opts.log.info({ version: opts.version, libsDir }, 'resolving Kafka broker jars from Maven Central');
  try {
    try {
      await execFileAsync(
        'mvn',
        [
          '-q',
          '-B',
          '-f',
          pom,
          `-Dmaven.repo.local=${path.join(cacheDir, 'm2')}`,
          'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies',
          '-DincludeScope=runtime',
          `-DoutputDirectory=${workLibs}`,
        ],
        { cwd: work, maxBuffer: 32 * 1024 * 1024, timeout: 15 * 60_000 },
      );
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const tail = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-30).join('\n');
      throw new VigilError(
        'VIGIL_ERR_KAFKA_LOCAL',
        `Maven could not resolve org.apache.kafka:kafka_2.13:${opts.version} (is Maven Central reachable? is mvn on PATH?):\n${tail || e.message}`,
        { cause: err },
      );
    }
    if (!hasKafkaJar(workLibs, opts.version)) {
      throw new VigilError('VIGIL_ERR_KAFKA_LOCAL', `Maven finished but produced no kafka_2.13-${opts.version}.jar`);
    }
    try {
      fs.renameSync(workLibs, libsDir);
    } catch (err) {
      // Another process finished first (libs/ exists and is complete): use theirs.
      if (!hasKafkaJar(libsDir, opts.version)) throw err;
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  const jars = writeMarker(marker, libsDir);
  opts.log.info({ jars, ms: Date.now() - started }, 'Kafka broker jars resolved');
  return { ...result, cached: false };
}

function hasKafkaJar(dir: string, version: string): boolean {
  try {
    return fs.readdirSync(dir).includes(`kafka_2.13-${version}.jar`);
  } catch {
    return false;
  }
}

/** Write the completion marker; returns the number of jars. */
function writeMarker(marker: string, libsDir: string): number {
  const jars = fs.readdirSync(libsDir).filter((f) => f.endsWith('.jar')).length;
  fs.writeFileSync(marker, `${new Date().toISOString()} ${jars} jars\n`);
  return jars;
}
