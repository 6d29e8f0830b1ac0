/** PNG pictures through pngjs: image grids and a labelled scatter plot (the latent map). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { PNG } from 'pngjs';

/** Ten well-separated colours (matplotlib's tab10), one per class label. */
export const LABEL_COLOURS: readonly [number, number, number][] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export function writePng(file: string, png: PNG): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, PNG.sync.write(png, { deflateLevel: 9 }));
}

/**
 * A grid of images (intensities in [0, 1], HWC, `count × h·w·c` values), `cols` per row, 2-px gutters. One-channel
 * images are drawn as dark ink on white (as digits are written); three-channel images as they are.
 */
export function gridPng(pixels: Float32Array, count: number, shape: readonly [number, number, number], cols: number): PNG {
  const [h, w, c] = shape;
  const rows = Math.ceil(count / cols);
  const g = 2;
  const width = cols * w + (cols + 1) * g;
  const height = rows * h + (rows + 1) * g;
  const png = new PNG({ width, height });
  png.data.fill(c === 1 ? 255 : 128);
  for (let i = 0; i < png.data.length; i += 4) png.data[i + 3] = 255;
  const size = h * w * c;
  for (let i = 0; i < count; i++) {
    const ox = g + (i % cols) * (w + g);
    const oy = g + Math.floor(i / cols) * (h + g);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = ((oy + y) * width + ox + x) * 4;
        for (let k = 0; k < 3; k++) {
          const v = pixels[i * size + (y * w + x) * c + (c === 1 ? 0 : k)] as number;
          const clipped = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
          png.data[at + k] = Math.round(255 * (c === 1 ? 1 - clipped : clipped));
        }
      }
    }
  }
  return png;
}

/** Every point's image for {@link scatterPicture}'s thumbnails: intensities in [0, 1], HWC, `count × h·w·c` values. */
export interface Thumbnails {
  pixels: Float32Array;
  shape: readonly [number, number, number];
}

export interface ScatterOptions {
  /** Side of the square plot in pixels (default 640). */
  size?: number;
  legendImages?: Map<number, { pixels: Float32Array; h: number; w: number }>;
  /**
   * Images drawn at their points, over the dots: taken in point order, each one that does not overlap one already
   * drawn (one-channel images as dark ink on white, framed in their label's colour; three-channel as they are).
   */
  thumbnails?: Thumbnails;
}

/**
 * A scatter plot of 2-D points coloured by label on white, with a legend column on the right that shows, for each
 * label present, an example image (`legendImages[label]`, one-channel intensities in [0, 1]) tinted in its colour —
 * a legend without fonts.
 */
export function scatterPng(points: Float32Array | Float64Array | number[], labels: ArrayLike<number>, options: ScatterOptions = {}): PNG {
  return scatterPicture(points, labels, options).png;
}

/** {@link scatterPng}, and how many thumbnails it drew (`options.thumbnails`). */
export function scatterPicture(points: Float32Array | Float64Array | number[], labels: ArrayLike<number>, options: ScatterOptions = {}): { png: PNG; thumbnails: number } {
  const size = options.size ?? 640;
  const legend = options.legendImages ?? new Map();
  const legendWidth = legend.size > 0 ? 28 + 16 : 0;
  const margin = 16;
  const width = size + legendWidth;
  const png = new PNG({ width, height: size });
  png.data.fill(255);
  const n = labels.length;
  let [minX, maxX, minY, maxY] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < n; i++) {
    const x = points[2 * i] as number;
    const y = points[2 * i + 1] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  const spanX = maxX - minX || 1;
  const spanY = maxY - minY || 1;
  const put = (px: number, py: number, [r, g, b]: readonly [number, number, number], alpha: number) => {
    if (px < 0 || py < 0 || px >= width || py >= size) return;
    const at = (py * width + px) * 4;
    png.data[at] = Math.round((png.data[at] as number) * (1 - alpha) + r * alpha);
    png.data[at + 1] = Math.round((png.data[at + 1] as number) * (1 - alpha) + g * alpha);
    png.data[at + 2] = Math.round((png.data[at + 2] as number) * (1 - alpha) + b * alpha);
  };
  // Light axes frame.
  for (let t = margin - 4; t <= size - margin + 4; t++) {
    put(t, margin - 4, [200, 200, 200], 1);
    put(t, size - margin + 4, [200, 200, 200], 1);
    put(margin - 4, t, [200, 200, 200], 1);
    put(size - margin + 4, t, [200, 200, 200], 1);
  }
  for (let i = 0; i < n; i++) {
    const x = points[2 * i] as number;
    const y = points[2 * i + 1] as number;
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const px = Math.round(margin + ((x - minX) / spanX) * (size - 2 * margin));
    const py = Math.round(size - margin - ((y - minY) / spanY) * (size - 2 * margin));
    const colour = LABEL_COLOURS[(labels[i] as number) % LABEL_COLOURS.length] as [number, number, number];
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) if (dx * dx + dy * dy <= 5) put(px + dx, py + dy, colour, 0.6);
  }
  let drawn = 0;
  if (options.thumbnails !== undefined) {
    const [h, w, c] = options.thumbnails.shape;
    const pixels = options.thumbnails.pixels;
    const placed: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      const x = points[2 * i] as number;
      const y = points[2 * i + 1] as number;
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      // Top-left corner of the thumbnail centred on the point, kept inside the plot.
      const ox = Math.min(size - w - 1, Math.max(1, Math.round(margin + ((x - minX) / spanX) * (size - 2 * margin)) - (w >> 1)));
      const oy = Math.min(size - h - 1, Math.max(1, Math.round(size - margin - ((y - minY) / spanY) * (size - 2 * margin)) - (h >> 1)));
      if (placed.some(([qx, qy]) => Math.abs(qx - ox) < w + 3 && Math.abs(qy - oy) < h + 3)) continue;
      placed.push([ox, oy]);
      const colour = LABEL_COLOURS[(labels[i] as number) % LABEL_COLOURS.length] as [number, number, number];
      for (let t = -1; t <= w; t++) {
        put(ox + t, oy - 1, colour, 1);
        put(ox + t, oy + h, colour, 1);
      }
      for (let t = 0; t < h; t++) {
        put(ox - 1, oy + t, colour, 1);
        put(ox + w, oy + t, colour, 1);
      }
      const base = i * h * w * c;
      for (let yy = 0; yy < h; yy++) {
        for (let xx = 0; xx < w; xx++) {
          const at = base + (yy * w + xx) * c;
          const v = (k: number) => Math.min(1, Math.max(0, Number.isFinite(pixels[at + k] as number) ? (pixels[at + k] as number) : 0));
          const rgb: [number, number, number] = c === 1 ? [255 * (1 - v(0)), 255 * (1 - v(0)), 255 * (1 - v(0))] : [255 * v(0), 255 * v(1), 255 * v(2)];
          put(ox + xx, oy + yy, rgb, 1);
        }
      }
      drawn++;
    }
  }
  let row = 0;
  for (const [label, img] of [...legend.entries()].sort((a, b) => a[0] - b[0])) {
    const colour = LABEL_COLOURS[label % LABEL_COLOURS.length] as [number, number, number];
    const ox = size + 8;
    const oy = margin + row * (img.h + 6);
    for (let y = 0; y < img.h; y++) for (let x = 0; x < img.w; x++) put(ox + x, oy + y, colour, Math.min(1, Math.max(0, img.pixels[y * img.w + x] as number)));
    row++;
  }
  return { png, thumbnails: drawn };
}
