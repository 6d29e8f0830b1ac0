/** Shared helpers of the flow scripts: the 2-D toy sets, PNG panels and image grids (pngjs). */
import * as fs from 'node:fs';
import { PNG } from 'pngjs';
import { checkerboard, gaussianMixture, rings, twoMoons } from '@gm/data';

/** Writes an RGB PNG of width×height from a function (x, y) → [r, g, b]. */
/** The 2-D toy sets of the toy scripts: how to draw n points with a seed, and the box their pictures show. */
export const TOY_SETS = {
  moons: { make: (n, s) => twoMoons(n, { seed: s, noise: 0.05 }), box: [-1.5, 2.5, -1.25, 1.75] },
  rings: { make: (n, s) => rings(n, { seed: s, noise: 0.05 }), box: [-3.75, 3.75, -3.75, 3.75] },
  // Three broad, overlapping Gaussians; and the classic eight narrow ones on a circle of radius 2.
  mixture: { make: (n, s) => gaussianMixture(n, { seed: s, components: 3, radius: 1.2, std: 0.45 }), box: [-3, 3, -3, 3] },
  'eight-gaussians': { make: (n, s) => gaussianMixture(n, { seed: s }), box: [-3, 3, -3, 3] },
  checkerboard: { make: (n, s) => checkerboard(n, { seed: s }), box: [-2.5, 2.5, -2.5, 2.5] },
};

export function writePng(file, width, height, pixel) {
  const png = new PNG({ width, height });
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      const i = (y * width + x) * 4;
      png.data[i] = r;
      png.data[i + 1] = g;
      png.data[i + 2] = b;
      png.data[i + 3] = 255;
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

/** Maps t in [0, 1] to a white → dark blue colour ramp. */
export function ramp(t) {
  const u = Math.max(0, Math.min(1, t));
  return [Math.round(255 * (1 - u) + 8 * u), Math.round(255 * (1 - u) + 48 * u), Math.round(255 * (1 - u) + 107 * u)];
}

/** A 2-D histogram of interleaved (x, y) points on a res×res grid over [lo, hi]² (row 0 at the top = max y). */
export function histogram(points, res, box) {
  const h = new Float64Array(res * res);
  const [x0, x1, y0, y1] = box;
  for (let i = 0; i < points.length / 2; i++) {
    const cx = Math.floor(((points[2 * i] - x0) / (x1 - x0)) * res);
    const cy = Math.floor(((y1 - points[2 * i + 1]) / (y1 - y0)) * res);
    if (cx >= 0 && cx < res && cy >= 0 && cy < res) h[cy * res + cx] += 1;
  }
  return h;
}

/** Writes panels (each res×res Float64Array, scaled to its own max) side by side with 4-px gaps. */
export function writePanels(file, panels, res) {
  const gap = 4;
  const width = panels.length * res + (panels.length - 1) * gap;
  const maxes = panels.map((p) => p.reduce((a, b) => Math.max(a, b), 0) || 1);
  writePng(file, width, res, (x, y) => {
    const k = Math.floor(x / (res + gap));
    const px = x - k * (res + gap);
    if (px >= res) return [255, 255, 255];
    return ramp(Math.sqrt(panels[k][y * res + px] / maxes[k]));
  });
}

/** Writes a grid of images (values 0..255, `[n, h, w, c]` flattened, c = 1 or 3) with `cols` columns. */
export function writeImageGrid(file, data, n, h, w, c, cols) {
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const W = cols * (w + gap) - gap;
  const H = rows * (h + gap) - gap;
  writePng(file, W, H, (x, y) => {
    const col = Math.floor(x / (w + gap));
    const row = Math.floor(y / (h + gap));
    const px = x - col * (w + gap);
    const py = y - row * (h + gap);
    const k = row * cols + col;
    if (px >= w || py >= h || k >= n) return [128, 128, 128];
    const base = ((k * h + py) * w + px) * c;
    const v = (j) => Math.max(0, Math.min(255, Math.floor(data[base + j])));
    return c === 3 ? [v(0), v(1), v(2)] : [v(0), v(0), v(0)];
  });
}

/**
 * One sheet of panel pictures: `files[row][col]` (PNGs of equal size) side by side, each shrunk by `shrink` (block
 * means), with a grey line between columns.
 */
export function writeSheet(file, files, shrink = 2) {
  const images = files.map((row) => row.map((f) => PNG.sync.read(fs.readFileSync(f))));
  const { width: w0, height: h0 } = images[0][0];
  const [w, h] = [Math.floor(w0 / shrink), Math.floor(h0 / shrink)];
  const cols = images[0].length;
  const sheet = new PNG({ width: cols * w, height: images.length * h });
  images.forEach((row, r) =>
    row.forEach((img, c) => {
      if (img.width !== w0 || img.height !== h0) throw new Error(`writeSheet: ${files[r][c]} is ${img.width}×${img.height}, expected ${w0}×${h0}`);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const o = 4 * ((r * h + y) * sheet.width + c * w + x);
          for (let k = 0; k < 3; k++) {
            let sum = 0;
            for (let dy = 0; dy < shrink; dy++) for (let dx = 0; dx < shrink; dx++) sum += img.data[4 * ((y * shrink + dy) * w0 + x * shrink + dx) + k];
            sheet.data[o + k] = c > 0 && x === 0 ? 170 : Math.round(sum / (shrink * shrink));
          }
          sheet.data[o + 3] = 255;
        }
      }
    }),
  );
  fs.writeFileSync(file, PNG.sync.write(sheet, { colorType: 0 })); // grey: the ramp is one hue, and the file a third
}
