/**
 * Issue 12 item 1: `npm start` failed about once in 64 fresh data directories
 * because the local broker's cluster id (`randomBytes(16).toString('base64url')`)
 * could start with `-`, which `kafka-storage format -t <id>` read as an option.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka/client.js';
import { startLocalKafka, type LocalKafka } from '../../platform/kafka/local-broker.js';
import { randomClusterId, readClusterId, storageFormatArgs } from '../../platform/kafka/storage.js';
import { createLogger } from '../../platform/logger.js';
import { cacheDir } from '../../platform/paths.js';
import { tempDir } from '../support/harness.js';

const log = createLogger('silent');
const ID = /^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/;

describe('issue 12 item 1: npm start fails about once in 64 fresh data directories (cluster id starting with "-")', () => {
  let broker: LocalKafka | undefined;
  afterAll(async () => {
    await broker?.stop();
  });

  it('randomClusterId never returns an id starting with "-", even when the random bytes would give one', () => {
    // 0xF8 as the first byte encodes as '-' in base64url (index 62 = 0b111110).
    const draws: Buffer[] = [];
    const rigged = (n: number): Buffer => {
      const b = crypto.randomBytes(n);
      b[0] = draws.length < 3 ? 0xf8 + draws.length : 0x00; // the first three draws start with '-', the fourth with 'A'
      draws.push(b);
      return b;
    };
    const id = randomClusterId(rigged);
    expect(draws.length).toBe(4);
    expect(id).toMatch(ID);
    expect(Buffer.from(draws[0]!.subarray(0, 16)).toString('base64url')).toMatch(/^-/);

    for (let i = 0; i < 20_000; i++) expect(randomClusterId()).toMatch(ID);
  });

  it('passes the id as one --cluster-id=<id> argument', () => {
    expect(storageFormatArgs('-abc', '/x/server.properties')).toContain('--cluster-id=-abc');
    expect(storageFormatArgs('-abc', '/x/server.properties')).not.toContain('-abc');
  });

  it('formats and starts a broker whose cluster id starts with "-" (the old failure mode)', { timeout: 300_000 }, async () => {
    // Draw ids the old way until one starts with '-' (≈ 1 in 64).
    let oldStyle = '';
    let draws = 0;
    while (!oldStyle.startsWith('-')) {
      oldStyle = crypto.randomBytes(16).toString('base64url');
      draws += 1;
    }
    expect(draws).toBeGreaterThan(0);

    const dataDir = tempDir('cluster-id');
    broker = await startLocalKafka({ version: '3.9.1', cacheDir: cacheDir(), dataDir, log, clusterId: oldStyle });
    expect(broker.clusterId).toBe(oldStyle);
    expect(readClusterId(path.join(dataDir, 'kraft-logs'))).toBe(oldStyle);

    const admin = createKafka({ brokers: broker.brokers, clientId: 'vigil-test', log }).admin();
    await admin.connect();
    try {
      expect((await admin.describeCluster()).clusterId).toBe(oldStyle);
    } finally {
      await admin.disconnect();
    }
  });
});
