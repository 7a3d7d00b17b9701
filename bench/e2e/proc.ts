/**
 * /proc readers for bench:e2e (Linux only): CPU time of a process (all its
 * threads) and of each thread, RSS, child processes, machine-wide busy time.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat's utime/stime (usually 100). */
export const CLK_TCK: number = (() => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields of /proc/<pid>/stat after the `(comm)` part; index 0 = state (field 3). */
function statFields(text: string): { comm: string; rest: string[] } {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  return { comm: text.slice(open + 1, close), rest: text.slice(close + 2).trim().split(' ') };
}

/** utime + stime of a process (all threads, not its children) in seconds, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  const t = readOr(`/proc/${pid}/stat`);
  if (t === undefined) return undefined;
  const { rest } = statFields(t);
  // rest[0] = field 3 (state) → utime = field 14 = rest[11], stime = field 15 = rest[12]
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Resident set size in bytes (VmRSS), or undefined when the process is gone. */
export function rssBytes(pid: number): number | undefined {
  const t = readOr(`/proc/${pid}/status`);
  const m = t?.match(/^VmRSS:\s+(\d+)\s+kB/m);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** Direct children of `ppid` with their command names (`ps --ppid`, read from /proc). */
export function childrenOf(ppid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const t = readOr(`/proc/${name}/stat`);
    if (t === undefined) continue;
    const { comm, rest } = statFields(t);
    if (Number(rest[1]) === ppid) out.push({ pid: Number(name), comm });
  }
  return out;
}

/** Every descendant of `pid` (children, their children, …). */
export function descendantsOf(pid: number): { pid: number; comm: string }[] {
  const out: { pid: number; comm: string }[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const c of childrenOf(queue.shift()!)) {
      out.push(c);
      queue.push(c.pid);
    }
  }
  return out;
}

/** CPU seconds per thread of `pid`, keyed by tid, with the thread's name. */
export function threadCpu(pid: number): Map<number, { comm: string; cpu: number }> {
  const out = new Map<number, { comm: string; cpu: number }>();
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    const t = readOr(`/proc/${pid}/task/${tid}/stat`);
    if (t === undefined) continue;
    const { comm, rest } = statFields(t);
    out.set(Number(tid), { comm, cpu: (Number(rest[11]) + Number(rest[12])) / CLK_TCK });
  }
  return out;
}

/**
 * CPU seconds per thread group between two {@link threadCpu} snapshots. Threads
 * are grouped by name; the process's main thread (tid = pid) is its own group
 * `main`. Threads that ended between the snapshots are not counted.
 */
export function threadGroups(pid: number, before: Map<number, { comm: string; cpu: number }>, after: Map<number, { comm: string; cpu: number }>): Record<string, { threads: number; cpu: number }> {
  const out: Record<string, { threads: number; cpu: number }> = {};
  for (const [tid, a] of after) {
    const key = tid === pid ? 'main' : a.comm;
    const d = a.cpu - (before.get(tid)?.cpu ?? 0);
    const g = (out[key] ??= { threads: 0, cpu: 0 });
    g.threads++;
    g.cpu += d;
  }
  return out;
}

/** Machine-wide CPU seconds (busy = everything but idle and iowait) and the number of CPUs, from /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const line = (readOr('/proc/stat') ?? '').split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / CLK_TCK, total: (busy + idle + iowait) / CLK_TCK };
}
