/**
 * Helpers for tests that run the BUILT CLI (`node dist/bin/vigil.js`): build it
 * if stale (scripts/build-if-stale.mjs, as `npm start` does), run it with a
 * controlled environment and collect stdout, stderr and the exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const VIGIL_JS = path.join(ROOT, 'dist', 'bin', 'vigil.js');

/** Result of a finished process. `signal` is set when it was killed (e.g. by the time box). */
export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Environment for a child: this process's environment without any Vigil or
 * server variable (so the caller's own settings do not leak in), plus `env`.
 */
export function cleanEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(VIGIL_|KAFKA_|CLICKHOUSE_|DATABASE_URL$)/.test(k)) continue;
    out[k] = v;
  }
  return { ...out, ...env };
}

/** Run a node script to completion; killed (SIGKILL) after `timeoutMs`. */
export function runNode(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: opts.cwd ?? ROOT, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Run `vigil <args>` (the built binary) with {@link cleanEnv}(env), time-boxed to `timeoutMs`. */
export function vigil(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<Ran> {
  return runNode([VIGIL_JS, ...args], { env: cleanEnv(env), timeoutMs });
}

/** Build dist/ if any source changed (fails with tsc's output when the build fails). */
export async function buildIfStale(): Promise<void> {
  const r = await runNode([path.join(ROOT, 'scripts', 'build-if-stale.mjs')], { timeoutMs: 200_000 });
  if (r.code !== 0) throw new Error(`build failed (exit ${r.code ?? r.signal}):\n${r.stderr}`);
}

/** A long-running `vigil` child whose stdout/stderr accumulate; {@link waitFor} polls them. */
export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `vigil <args>` in the background. Stop it with `child.kill('SIGTERM')` and await `exited`. */
export function startVigilProcess(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [VIGIL_JS, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Poll `check` every 200 ms until it returns a value; throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
