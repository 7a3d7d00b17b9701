/**
 * KRaft storage of the local broker: cluster ids and `kafka-storage format`.
 *
 * Regression (issue 12 item 1): the cluster id used to be
 * `randomBytes(16).toString('base64url')`, which starts with `-` once in 64
 * draws; `StorageTool format -t -…` then read it as an option ("argument
 * --cluster-id/-t: expected one argument") and start-up failed. Ids are now
 * generated like Kafka's `Uuid.randomUuid()` (never starting with `-`), and the
 * id is passed as one `--cluster-id=<id>` argument so that even an id starting
 * with `-` (e.g. an old or user-supplied one) is read as a value.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../logger.js';
import { VigilError } from '../errors.js';

const execFileAsync = promisify(execFile);

/** Source of random bytes (injectable for tests); `crypto.randomBytes` by default. */
export type RandomBytes = (size: number) => Buffer;

/**
 * A random Kafka cluster id as Kafka's `Uuid.randomUuid()` makes it: a version-4
 * UUID (122 random bits) encoded as 22 characters of unpadded base64url, drawn
 * again while it starts with `-` (it would be read as a command-line option) or
 * is one of Kafka's reserved ids (all zero; `…01`, the metadata topic id).
 * @param random source of random bytes (default `crypto.randomBytes`).
 * @returns a 22-character id matching `^[A-Za-z0-9_][A-Za-z0-9_-]{21}$`.
 */
export function randomClusterId(random: RandomBytes = crypto.randomBytes): string {
  for (;;) {
    const b = Buffer.from(random(16).subarray(0, 16));
    if (b.length !== 16) throw new Error('randomClusterId: the random source returned fewer than 16 bytes');
    b[6] = (b[6]! & 0x0f) | 0x40; // version 4
    b[8] = (b[8]! & 0x3f) | 0x80; // IETF variant
    const id = b.toString('base64url');
    if (!id.startsWith('-') && !isReservedUuid(b)) return id;
  }
}

/** Kafka's reserved ids: ZERO_UUID and METADATA_TOPIC_ID (0…01). Impossible with the v4 bits set; kept for parity. */
function isReservedUuid(b: Buffer): boolean {
  return b.subarray(0, 15).every((x) => x === 0) && (b[15] === 0 || b[15] === 1);
}

/**
 * The `kafka.tools.StorageTool` arguments that format `propsFile`'s log
 * directories with `clusterId`. Every value is attached with `=`, so a value
 * starting with `-` cannot be taken for an option.
 */
export function storageFormatArgs(clusterId: string, propsFile: string): string[] {
  return ['format', `--cluster-id=${clusterId}`, `--config=${propsFile}`, '--ignore-formatted'];
}

/** Options of {@link formatKafkaStorage}. */
export interface FormatStorageOptions {
  /** Broker classpath (see maven.ts). */
  classpath: string;
  /** The broker's server.properties (its `log.dirs` are formatted). */
  propsFile: string;
  /** The KRaft log directory; formatting is skipped when it holds `meta.properties`. */
  logDir: string;
  /** log4j 1.x configuration file for the tool's own logging. */
  log4jFile: string;
  /** Cluster id to format with (default: {@link randomClusterId}). Ignored when already formatted. */
  clusterId?: string | undefined;
  log: Logger;
}

/**
 * Format the KRaft storage once (first start of a data directory).
 * @returns `{ formatted: true, clusterId }` when it formatted now, or
 *   `{ formatted: false, clusterId }` with the id read from the existing `meta.properties`.
 * @throws VigilError VIGIL_ERR_KAFKA_LOCAL when the tool fails (its output is in the message).
 */
export async function formatKafkaStorage(o: FormatStorageOptions): Promise<{ formatted: boolean; clusterId: string | undefined }> {
  if (fs.existsSync(path.join(o.logDir, 'meta.properties'))) {
    return { formatted: false, clusterId: readClusterId(o.logDir) };
  }
  const clusterId = o.clusterId ?? randomClusterId();
  try {
    await execFileAsync(
      'java',
      ['-Xmx256m', `-Dlog4j.configuration=file:${o.log4jFile}`, '-cp', o.classpath, 'kafka.tools.StorageTool', ...storageFormatArgs(clusterId, o.propsFile)],
      { timeout: 120_000, maxBuffer: 8 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new VigilError(
      'VIGIL_ERR_KAFKA_LOCAL',
      `kafka StorageTool format (cluster id ${clusterId}) failed: ${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`,
      { cause: err },
    );
  }
  o.log.debug({ clusterId, logDir: o.logDir }, 'formatted local Kafka storage');
  return { formatted: true, clusterId };
}

/** The `cluster.id` in `<logDir>/meta.properties`, or undefined when missing. */
export function readClusterId(logDir: string): string | undefined {
  try {
    const text = fs.readFileSync(path.join(logDir, 'meta.properties'), 'utf8');
    return /^cluster\.id=(.*)$/m.exec(text)?.[1]?.trim();
  } catch {
    return undefined;
  }
}
