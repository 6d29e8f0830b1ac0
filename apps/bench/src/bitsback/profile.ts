/**
 * Where the time goes: a V8 CPU profile of one piece of work (node:inspector), self time grouped by who owns the
 * code — the coder (@gm/bitsback), the VAE adapter (@gm/models), TensorFlow.js (JS and wasm), GC, the rest.
 */
import { Session } from 'node:inspector/promises';

export interface ProfileSummary {
  totalMs: number;
  groups: Record<string, number>;
  top: Array<{ fn: string; where: string; ms: number }>;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function group(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (url.includes('/bitsback/')) return '@gm/bitsback (coder)';
  if (url.includes('/models/dist') || url.includes('/packages/models/')) return '@gm/models (VAE adapter)';
  if (url.startsWith('wasm://') || fn.startsWith('wasm-function')) return 'tfjs wasm kernels';
  if (url.includes('tfjs') || url.includes('/backend/')) return 'tfjs JS (ops, layers, backend glue)';
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
  const groups: Record<string, number> = {};
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  let total = 0;
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (us === 0) continue;
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
  return { value, summary: { totalMs: total, groups, top } };
}
