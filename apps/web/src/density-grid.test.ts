import { describe, expect, it } from 'vitest';
import { boxAround, gridIntegral, gridPoints } from './density-grid';

describe('density grid', () => {
  it('puts cell centres row by row from the top', () => {
    const p = gridPoints({ box: [0, 2, 0, 2], size: 2 });
    expect([...p]).toEqual([0.5, 1.5, 1.5, 1.5, 0.5, 0.5, 1.5, 0.5]);
  });

  it('integrates a normalised Gaussian to 1 and half of one to 1/2 (midpoint rule)', () => {
    const grid = { box: [-6, 6, -6, 6] as const, size: 120 };
    const pts = gridPoints(grid);
    const sigma = 0.7;
    const gauss = (x: number, y: number, mx: number) => Math.exp(-((x - mx) ** 2 + y ** 2) / (2 * sigma ** 2)) / (2 * Math.PI * sigma ** 2);
    const centred = Float64Array.from({ length: 120 * 120 }, (_, i) => gauss(pts[2 * i]!, pts[2 * i + 1]!, 0));
    expect(gridIntegral(grid, centred)).toBeCloseTo(1, 4);
    // Centred on the box's right edge: half its mass lies outside.
    const edge = Float64Array.from({ length: 120 * 120 }, (_, i) => gauss(pts[2 * i]!, pts[2 * i + 1]!, 6));
    expect(gridIntegral(grid, edge)).toBeCloseTo(0.5, 2);
    expect(() => gridIntegral(grid, new Float32Array(10))).toThrow(/10 densities for a 120×120 grid/);
  });

  it('makes a square box around points with a margin', () => {
    expect(boxAround([0, 0, 2, 1], 0.25)).toEqual([-0.5, 2.5, -1, 2]);
    expect(() => boxAround([])).toThrow(/no points/);
  });
});
