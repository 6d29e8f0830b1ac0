/**
 * Where the time goes: a V8 CPU profile of one piece of work (node:inspector), self time grouped by who owns the
 * code — the coder (@gm/bitsback: its exact elementary functions apart), its dense engine's wasm kernel, @gm/core
 * and @noble/hashes (checksums), TensorFlow.js (should be absent: the coder evaluates the networks itself), GC, the
 * rest. The profiler's own work (node:inspector serialising the profile on stop) is counted apart, not in the total.
 */
import { Session } from 'node:inspector/promises';

export interface ProfileSummary {
  /** Sampled self time of the work (the profiler's own time excluded). */
  totalMs: number;
  /** Self time under node:inspector itself (stopping the profiler), left out of totalMs and the groups. */
  profilerMs: number;
  groups: Record<string, number>;
  top: Array<{ fn: string; where: string; ms: number }>;
}

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function group(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (url.startsWith('wasm://') || fn.startsWith('wasm-function')) return 'wasm (the dense engine kernel)';
  if (url.includes('tfjs') || url.includes('/backend/')) return 'tfjs (not expected while coding)';
  if (url.includes('/bitsback/')) return /^exact[A-Z]/.test(fn) ? '@gm/bitsback exact math (exact*)' : '@gm/bitsback coder (rANS, codecs, networks glue)';
  if (url.includes('/core/') || url.includes('@noble/hashes') || url.includes('/hashes/esm/')) return 'checksums (@gm/core, @noble/hashes)';
  if (url.includes('fflate')) return 'fflate (deflate)';
  if (url.includes('apps/bench')) return 'bench harness';
  if (fn === '(idle)' || fn === '(program)' || fn === '(root)') return `v8 ${fn}`;
  return 'node / other';
}

export async function profile<T>(fn: () => Promise<T>): Promise<{ value: T; summary: ProfileSummary }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  const value = await fn();
  const { profile: p } = (await session.post('Profiler.stop')) as unknown as {
    profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  };
  session.disconnect();
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const underInspector = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) if (byId.get(at)?.callFrame.url.startsWith('node:inspector') === true) return true;
    return false;
  };
  const groups: Record<string, number> = {};
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  let total = 0;
  let profilerMs = 0;
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
    if (underInspector(n.id)) {
      profilerMs += us / 1000;
      continue;
    }
    const { functionName, url, lineNumber } = n.callFrame;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const g = group(url, name);
    groups[g] = (groups[g] ?? 0) + us / 1000;
    total += us / 1000;
    const where = `${url.split('/').slice(-3).join('/')}:${lineNumber + 1}`;
    const key = `${name} ${where}`;
    const e = fns.get(key) ?? { fn: name, where, ms: 0 };
    e.ms += us / 1000;
    fns.set(key, e);
  }
  const top = [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, 15);
  return { value, summary: { totalMs: total, profilerMs, groups, top } };
}
