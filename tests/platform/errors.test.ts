import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, VigilError, isRetryable } from '../../platform/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('error codes', () => {
  it('documents every VIGIL_ERR_* code in docs/errors.md', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
    const missing = Object.keys(ERROR_CODES).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('documents no code that does not exist', () => {
    const doc = fs.readFileSync(path.join(root, 'docs/errors.md'), 'utf8');
    const documented = [...doc.matchAll(/`(VIGIL_ERR_[A-Z_]+)`/g)].map((m) => m[1]);
    const unknown = documented.filter((c) => !(c! in ERROR_CODES));
    expect(unknown).toEqual([]);
  });

  it('uses only codes defined in platform/errors.ts anywhere in the source', () => {
    const used = new Set<string>();
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        if (['node_modules', 'dist', '.git', '.vigil', '.cache', 'tests', 'docs'].includes(entry.name)) continue;
        const p = path.join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (p.endsWith('.ts')) for (const m of fs.readFileSync(p, 'utf8').matchAll(/VIGIL_ERR_[A-Z_]+/g)) used.add(m[0]);
      }
    };
    walk(root);
    expect([...used].filter((c) => !(c in ERROR_CODES))).toEqual([]);
  });

  it('derives status and retryability from the code', () => {
    const err = new VigilError('VIGIL_ERR_KAFKA_UNAVAILABLE', 'broker down', { retryAfterSeconds: 3 });
    expect(err.statusCode).toBe(503);
    expect(isRetryable(err)).toBe(true);
    expect(isRetryable(new VigilError('VIGIL_ERR_VALIDATION', 'x'))).toBe(false);
    expect(isRetryable(new Error('plain'))).toBe(false);
  });
});
