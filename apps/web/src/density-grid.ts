/**
 * The square grid a 2-D density is drawn on: `size × size` cells over a box, the points at the cells' centres (what
 * the worker evaluates the flow's density at) and the integral of those densities over the box (midpoint rule), which
 * is ≈ 1 for a normalised density whose mass lies inside the box.
 */

/** `[xMin, xMax, yMin, yMax]` in data coordinates. */
export type Box = readonly [number, number, number, number];

export interface DensityGrid {
  box: Box;
  /** Cells per side. */
  size: number;
}

/** Cell centres as interleaved (x, y), row by row from the top (y = yMax) down, as a canvas is drawn. */
export function gridPoints(grid: DensityGrid): Float32Array {
  const { box, size } = grid;
  const [x0, x1, y0, y1] = box;
  const dx = (x1 - x0) / size;
  const dy = (y1 - y0) / size;
  const out = new Float32Array(2 * size * size);
  for (let row = 0; row < size; row++) {
    for (let col = 0; col < size; col++) {
      const at = 2 * (row * size + col);
      out[at] = x0 + (col + 0.5) * dx;
      out[at + 1] = y1 - (row + 0.5) * dy;
    }
  }
  return out;
}

/** Σ p(cell centre) · cell area: the density's mass inside the box, by the midpoint rule. */
export function gridIntegral(grid: DensityGrid, density: ArrayLike<number>): number {
  const { box, size } = grid;
  if (density.length !== size * size) throw new RangeError(`gridIntegral: ${density.length} densities for a ${size}×${size} grid`);
  const area = ((box[1] - box[0]) / size) * ((box[3] - box[2]) / size);
  let sum = 0;
  for (let i = 0; i < density.length; i++) sum += density[i] as number;
  return sum * area;
}

/** The box around `points` (interleaved x, y) with `margin` of its larger side added on every side, made square. */
export function boxAround(points: ArrayLike<number>, margin = 0.25): Box {
  let x0 = Infinity;
  let x1 = -Infinity;
  let y0 = Infinity;
  let y1 = -Infinity;
  for (let i = 0; i + 1 < points.length; i += 2) {
    const x = points[i] as number;
    const y = points[i + 1] as number;
    x0 = Math.min(x0, x);
    x1 = Math.max(x1, x);
    y0 = Math.min(y0, y);
    y1 = Math.max(y1, y);
  }
  if (!Number.isFinite(x0)) throw new RangeError('boxAround: no points');
  const half = (Math.max(x1 - x0, y1 - y0, 1e-3) * (1 + 2 * margin)) / 2;
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  return [cx - half, cx + half, cy - half, cy + half];
}
