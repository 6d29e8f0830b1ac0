import { describe, expect, it } from 'vitest';
import { heldOutFigures } from './held-out-figures';

describe('heldOutFigures', () => {
  it('names each likelihood figure in nats with its bits/dim, or bits/dim alone', () => {
    const vae = [
      { name: 'negElbo', value: 105.04, unit: 'nats' },
      { name: 'negElboBitsPerDim', value: 0.19321, unit: 'bits/dim' },
      { name: 'reconstructionLoss', value: 3, unit: 'nats' },
    ];
    expect(heldOutFigures(vae)).toBe('−ELBO 105.0 nats (0.1932 bits/dim)');
    expect(heldOutFigures([{ name: 'nll', value: 97.5, unit: 'nats (exact)' }, { name: 'nllBitsPerDim', value: 0.1794, unit: 'bits/dim' }])).toBe('−log p 97.5 nats (0.1794 bits/dim)');
    expect(heldOutFigures([{ name: 'nllBitsPerDim', value: 1.66218, unit: 'bits/dim' }])).toBe('−log p 1.6622 bits/dim');
    expect(heldOutFigures([])).toBe('');
  });
});
