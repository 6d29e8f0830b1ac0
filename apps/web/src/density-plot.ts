/** Draws a 2-D density on its grid as a heat map, and points (data or samples) over a box, on canvases. */
import type { Box, DensityGrid } from './density-grid';

/** A dark-to-bright colour ramp (black → blue → yellow) for densities scaled to [0, 1]. */
function heat(t: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, t));
  if (v < 0.5) return [0, Math.round(60 * v), Math.round(255 * 2 * v)];
  const u = (v - 0.5) * 2;
  return [Math.round(255 * u), Math.round(30 + 200 * u), Math.round(255 * (1 - u))];
}

/** Density on the grid (rows from the top) as colours, scaled by its maximum. */
export function drawDensity(canvas: HTMLCanvasElement, grid: DensityGrid, density: ArrayLike<number>): void {
  const { size } = grid;
  const image = new ImageData(size, size);
  let max = 0;
  for (let i = 0; i < density.length; i++) max = Math.max(max, density[i] as number);
  for (let i = 0; i < size * size; i++) {
    const [r, g, b] = heat(max > 0 ? (density[i] as number) / max : 0);
    image.data[4 * i] = r;
    image.data[4 * i + 1] = g;
    image.data[4 * i + 2] = b;
    image.data[4 * i + 3] = 255;
  }
  const small = document.createElement('canvas');
  small.width = size;
  small.height = size;
  small.getContext('2d')?.putImageData(image, 0, 0);
  const ctx = canvas.getContext('2d');
  if (ctx === null) return;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** Canvas pixel of a data point in `box`. */
export function toCanvas(box: Box, canvas: { width: number; height: number }, x: number, y: number): [number, number] {
  return [((x - box[0]) / (box[1] - box[0])) * canvas.width, ((box[3] - y) / (box[3] - box[2])) * canvas.height];
}

/** Data point of a canvas pixel in `box` (the inverse of {@link toCanvas}). */
export function fromCanvas(box: Box, canvas: { width: number; height: number }, px: number, py: number): [number, number] {
  return [box[0] + (px / canvas.width) * (box[1] - box[0]), box[3] - (py / canvas.height) * (box[3] - box[2])];
}

/** Points (interleaved x, y) as small dots over a white (or kept) background. */
export function drawPoints(canvas: HTMLCanvasElement, box: Box, points: ArrayLike<number>, colour: string, clear = true): void {
  const ctx = canvas.getContext('2d');
  if (ctx === null) return;
  if (clear) {
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  }
  ctx.fillStyle = colour;
  for (let i = 0; i + 1 < points.length; i += 2) {
    const [px, py] = toCanvas(box, canvas, points[i] as number, points[i + 1] as number);
    ctx.fillRect(px - 1, py - 1, 2, 2);
  }
}
