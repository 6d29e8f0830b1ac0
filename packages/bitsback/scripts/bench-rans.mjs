// Raw rANS throughput: 10 M symbols from a fixed 256-symbol table at precision 16 (goal ≥ 50 M symbols/s each way).
// Run after `npx tsup`:  node scripts/bench-rans.mjs [--symbols N] [--lanes L] [--runs R] [--precision P]
import { parseArgs } from 'node:util';
import { benchRans } from '@gm/bitsback/testing';

const { values } = parseArgs({ options: { symbols: { type: 'string' }, lanes: { type: 'string' }, runs: { type: 'string' }, precision: { type: 'string' } } });
// A calibration loop (6 dependent integer ops) shows how much of a core this process got on a shared machine
// (≈2.6 ns/iter when the machine was idle).
let s = 1;
const t0 = performance.now();
for (let i = 0; i < 1e8; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; }
const calibNsPerIter = ((performance.now() - t0) * 1e6) / 1e8;
const r = benchRans({
  symbols: Number(values.symbols ?? 10_000_000),
  lanes: Number(values.lanes ?? 4),
  runs: Number(values.runs ?? 5),
  precision: Number(values.precision ?? 16),
});
console.log(`rANS ${r.symbols.toLocaleString()} symbols, precision ${r.precision}, ${r.lanes} lanes: ` +
  `encode ${(r.encodeSymbolsPerSec / 1e6).toFixed(1)} M/s (median ${(r.encodeMedianPerSec / 1e6).toFixed(1)}), ` +
  `decode ${(r.decodeSymbolsPerSec / 1e6).toFixed(1)} M/s (median ${(r.decodeMedianPerSec / 1e6).toFixed(1)}), ` +
  `${r.bitsPerSymbol.toFixed(4)} bits/symbol vs entropy ${r.entropyBits.toFixed(4)}, exact ${r.exact}; calibration ${calibNsPerIter.toFixed(2)} ns/iter (${s & 1})`);
console.log(JSON.stringify({ ...r, calibNsPerIter }));
