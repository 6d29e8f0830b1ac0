/**
 * Per-thread CPU time of this process from /proc/self/task/<tid>/schedstat (ns resolution; Linux only, empty
 * elsewhere).
 *
 * On a shared, oversubscribed machine wall-clock time says little about what a second core would give; CPU time
 * per thread does not include time spent runnable-but-waiting, so max(CPU of any thread) per step is the critical
 * path the step would take on otherwise idle cores.
 */
import { readdirSync, readFileSync } from 'node:fs';


export type CpuSnapshot = Map<number, number>;

/** CPU milliseconds (user + system) of every thread of this process, by thread id. */
export function threadCpu(): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      // schedstat: "<ns on cpu> <ns waiting on a run queue> <timeslices>"
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      out.set(Number(tid), ns / 1e6);
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

export interface CpuDelta {
  /** CPU ms of the process's main thread. */
  main: number;
  /** CPU ms of the busiest other thread (e.g. a worker_thread or a wasm pthread). */
  busiestOther: number;
  /** CPU ms of all threads. */
  total: number;
}

export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot): CpuDelta {
  let main = 0;
  let busiestOther = 0;
  let total = 0;
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    total += d;
    if (tid === process.pid) main = d;
    else busiestOther = Math.max(busiestOther, d);
  }
  return { main, busiestOther, total };
}

/** CPU ms of the calling thread so far, and ms it spent runnable but waiting for a CPU (NaN off Linux). */
export function currentThreadCpu(): { cpu: number; waiting: number } {
  try {
    const [run, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    return { cpu: Number(run) / 1e6, waiting: Number(wait) / 1e6 };
  } catch {
    return { cpu: Number.NaN, waiting: Number.NaN };
  }
}
