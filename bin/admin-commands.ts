/**
 * Administration commands of the `vigil` CLI (issue 8), usable while
 * `vigil start` runs on the same data directory (they use its Postgres,
 * platform/admin.ts):
 *
 *   vigil keys list [--project NAME] [--json]   key id, project, created, last used, status (never secrets)
 *   vigil keys revoke KEY_ID                    revoke a key (permanent)
 *   vigil projects list [--json]                id, name, created, active keys
 *   vigil projects create NAME                  create a project (prints its id)
 *
 * Tables go to stdout as tab-separated lines with a header (or JSON with
 * --json); notes go to stderr.
 */
import type { Command } from 'commander';
import type { VigilConfig } from '../platform/config.js';
import type { Logger } from '../platform/logger.js';

/** What the CLI passes in: its config/logger preparation and exit-code setter. */
export interface AdminCommandContext {
  prepare(): Promise<{ config: VigilConfig; log: Logger }>;
  setExit(code: number): void;
  usageExit: number;
}

async function withAdminPool<T>(ctx: AdminCommandContext, fn: (pool: import('pg').Pool) => Promise<T>): Promise<T> {
  const { config, log } = await ctx.prepare();
  const { connectAdminPostgres } = await import('../platform/admin.js');
  const { migratePostgres } = await import('../platform/migrate.js');
  const pg = await connectAdminPostgres({ url: config.postgres.url, dataDir: config.dataDir, port: config.postgres.embeddedPort, log });
  try {
    if (pg.via !== 'running-instance') await migratePostgres(pg.pool, { log });
    return await fn(pg.pool);
  } finally {
    await pg.stop();
  }
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const lines = [columns.join('\t'), ...rows.map((r) => columns.map((c) => String(r[c] ?? '-')).join('\t'))];
  return `${lines.join('\n')}\n`;
}

/**
 * Add `keys list`, `keys revoke`, `projects list`, `projects create` to the program.
 * @param keys the existing `keys` command.
 */
export function registerAdminCommands(program: Command, keys: Command, ctx: AdminCommandContext): void {
  keys
    .command('list')
    .description('list API keys (key id, project, created, last used, revoked) — never their secrets')
    .option('-p, --project <name>', 'only this project')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { project?: string; json?: boolean }) => {
      const { listKeys } = await import('../platform/admin.js');
      const rows = await withAdminPool(ctx, (pool) => listKeys(pool, opts.project?.trim() || undefined));
      process.stdout.write(opts.json ? `${JSON.stringify(rows)}\n` : table(rows.map((r) => ({ ...r, status: r.revoked_at === null ? 'active' : 'revoked' })), ['key_id', 'project', 'status', 'created_at', 'last_used_at', 'revoked_at']));
      ctx.setExit(0);
    });
  keys
    .command('revoke')
    .description('revoke an API key by its key id (the 12 hex characters after vgl_); permanent')
    .argument('<keyId>', 'key id, or the whole key')
    .action(async (keyIdArg: string, _opts: unknown, cmd: Command) => {
      const m = /^(?:vgl_)?([0-9a-f]{12})(?:_.*)?$/.exec(keyIdArg.trim());
      if (m === null) cmd.error('error: expected a key id (12 lowercase hex characters) or a key vgl_<key id>_<secret>', { exitCode: ctx.usageExit, code: 'vigil.usage' });
      const keyId = m![1]!;
      const { revokeApiKey } = await import('../platform/auth/keys.js');
      const revoked = await withAdminPool(ctx, (pool) => revokeApiKey(pool, keyId));
      if (revoked) {
        process.stdout.write(`${keyId}\n`);
        process.stderr.write(`revoked key ${keyId}; a running Vigil that verified it in the last 60 s may accept it until its cache entry expires\n`);
        ctx.setExit(0);
      } else {
        process.stderr.write(`vigil: VIGIL_ERR_NOT_FOUND: no active key with id ${keyId} (unknown or already revoked); see \`vigil keys list\`\n`);
        ctx.setExit(1);
      }
    });

  const projects = program.command('projects').description('manage projects (tenants)');
  projects
    .command('list')
    .description('list projects (id, name, created, active keys)')
    .option('--json', 'print JSON instead of a table')
    .action(async (opts: { json?: boolean }) => {
      const { listProjects } = await import('../platform/admin.js');
      const rows = await withAdminPool(ctx, (pool) => listProjects(pool));
      process.stdout.write(opts.json ? `${JSON.stringify(rows)}\n` : table(rows as unknown as Array<Record<string, unknown>>, ['id', 'name', 'created_at', 'active_keys']));
      ctx.setExit(0);
    });
  projects
    .command('create')
    .description('create a project; prints its id (create keys for it with `vigil keys create --project ID`)')
    .argument('<id>', "project id: 1-64 letters, digits, '.', '_' or '-'")
    .option('--name <name>', 'display name (default: the id)')
    .action(async (id: string, opts: { name?: string }) => {
      const { createProject } = await import('../platform/admin.js');
      const created = await withAdminPool(ctx, (pool) => createProject(pool, id.trim(), opts.name));
      process.stdout.write(`${id.trim()}\n`);
      process.stderr.write(created ? `created project "${id.trim()}"\n` : `project "${id.trim()}" exists already\n`);
      ctx.setExit(0);
    });
}
