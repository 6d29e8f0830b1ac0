/** A model's test figures as the page words them. */

/** How the page names a model's figures (the models' metric names, e.g. `negElbo`, are for code). */
const FIGURE_NAMES: Record<string, string> = { negElbo: '−ELBO', nll: '−log p', isNll: '−log p (importance-sampled)' };

/**
 * A model's likelihood figures in words: each in nats with its bits/dim beside it (`negElbo` with
 * `negElboBitsPerDim`), or bits/dim alone where a model reports only that (flows on pixels).
 */
export function heldOutFigures(metrics: ReadonlyArray<{ name: string; value: number; unit: string }>): string {
  const out: string[] = [];
  for (const m of metrics) {
    const base = m.name.endsWith('BitsPerDim') ? m.name.slice(0, -'BitsPerDim'.length) : m.name;
    const label = FIGURE_NAMES[base];
    if (label === undefined) continue;
    const bits = metrics.find((b) => b.name === `${base}BitsPerDim`);
    if (m.unit.startsWith('nats')) out.push(`${label} ${m.value.toFixed(1)} nats${bits === undefined ? '' : ` (${bits.value.toFixed(4)} bits/dim)`}`);
    else if (m.unit === 'bits/dim' && !metrics.some((n) => n.name === base)) out.push(`${label} ${m.value.toFixed(4)} bits/dim`);
  }
  return out.join(', ');
}
