/**
 * `vigil alerts init --project NAME` (built dist/, as users run it): prints
 * the built-in rules it created on stdout, nothing the second time; usage
 * errors exit 2.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildIfStale, vigil } from '../cli/support.js';
import { createTestDatabase, tempDir } from '../support/harness.js';

describe('vigil alerts', () => {
  beforeAll(async () => {
    await buildIfStale();
  }, 240_000);

  it('alerts init --project NAME creates the built-in rules once', async () => {
    const databaseUrl = await createTestDatabase();
    const env = { DATABASE_URL: databaseUrl, VIGIL_DATA_DIR: tempDir('cli-alerts') };
    const first = await vigil(['alerts', 'init', '--project', 'acme'], env, 60_000);
    expect(first.code).toBe(0);
    expect(first.stdout).toBe('High error rate\nHigh p99 latency\nLLM cost spike\nNo data\n');
    expect(first.stderr).toContain('created 4 of 4 built-in rules for project "acme"');
    const again = await vigil(['alerts', 'init', '--project', 'acme'], env, 60_000);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('');
    const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 });
    try {
      const rows = (await pool.query("SELECT builtin, condition->>'signal' AS signal FROM alert_rules WHERE project_id = 'acme' ORDER BY builtin")).rows;
      expect(rows).toEqual([
        { builtin: 'high_error_rate', signal: 'error_rate' },
        { builtin: 'high_p99_latency', signal: 'latency_p99_ms' },
        { builtin: 'llm_cost_spike', signal: 'cost_usd' },
        { builtin: 'no_data', signal: 'absence' },
      ]);
    } finally {
      await pool.end();
    }
  }, 150_000);

  it('usage: alerts init without --project exits 2; alerts --help lists run and init', async () => {
    const r = await vigil(['alerts', 'init']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("required option '-p, --project <name>' not specified");
    const help = await vigil(['alerts', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/run\s+run the alerting role/);
    expect(help.stdout).toMatch(/init \[options\]/);
  });
});
