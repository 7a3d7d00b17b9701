/**
 * Parent side of the bench:e2e load generator: forks bench/e2e/loadgen.(ts|js)
 * as a separate Node process and drives it over the IPC channel.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { LoadgenInit, ProbeMessage, StepCommand, StepResult } from './loadgen.js';

export class LoadgenClient {
  private pendingStep: { resolve: (r: StepResult) => void; reject: (e: Error) => void } | undefined;
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly bodyBytes: number,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(init: Omit<LoadgenInit, 'type'>, onProbe: (p: ProbeMessage) => void): Promise<LoadgenClient> {
    const isTs = new URL(import.meta.url).pathname.endsWith('.ts');
    const file = new URL(isTs ? './loadgen.ts' : './loadgen.js', import.meta.url);
    const child = fork(file, [], { execArgv: isTs ? ['--import', 'tsx'] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let client: LoadgenClient | undefined;
    const ready = new Promise<number>((resolve, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`load generator exited (${code ?? signal})`)));
      child.on('message', (raw: unknown) => {
        const m = raw as { type: string; bodyBytes?: number; message?: string };
        if (m.type === 'ready') resolve(m.bodyBytes ?? 0);
        else if (m.type === 'probe') onProbe(raw as ProbeMessage);
        else if (m.type === 'step-done') {
          const p = client?.pendingStep;
          if (client) client.pendingStep = undefined;
          p?.resolve(raw as StepResult);
        } else if (m.type === 'error') {
          const p = client?.pendingStep;
          if (client) client.pendingStep = undefined;
          p?.reject(new Error(`load generator: ${m.message}`));
        }
      });
    });
    child.send({ type: 'init', ...init } satisfies LoadgenInit);
    client = new LoadgenClient(child, await ready);
    child.on('exit', (code, signal) => {
      client!.exited = true;
      client!.pendingStep?.reject(new Error(`load generator exited (${code ?? signal})`));
    });
    return client;
  }

  step(cmd: Omit<StepCommand, 'type'>): Promise<StepResult> {
    if (this.exited) return Promise.reject(new Error('load generator is not running'));
    if (this.pendingStep) return Promise.reject(new Error('a step is already running'));
    return new Promise((resolve, reject) => {
      this.pendingStep = { resolve, reject };
      this.child.send({ type: 'step', ...cmd } satisfies StepCommand);
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'stop' });
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await done;
    clearTimeout(t);
  }
}
