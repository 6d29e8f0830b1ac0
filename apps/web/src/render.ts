/** Draws 28×28 greyscale images (values in [0, 1], image-major) on canvases as scaled-up grids. */

/** Draws `count` images of `rows × cols` from `values` into a grid of `gridCols` columns filling `canvas`. */
export function drawGrid(canvas: HTMLCanvasElement, values: ArrayLike<number>, count: number, gridCols: number, rows = 28, cols = 28): void {
  const gridRows = Math.ceil(count / gridCols);
  const image = new ImageData(gridCols * cols, gridRows * rows);
  const px = rows * cols;
  for (let n = 0; n < count; n++) {
    const ox = (n % gridCols) * cols;
    const oy = Math.floor(n / gridCols) * rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const v = values[n * px + r * cols + c] ?? 0;
        const g = Math.round(Math.min(1, Math.max(0, v)) * 255);
        const at = ((oy + r) * image.width + ox + c) * 4;
        image.data[at] = g;
        image.data[at + 1] = g;
        image.data[at + 2] = g;
        image.data[at + 3] = 255;
      }
    }
  }
  const small = document.createElement('canvas');
  small.width = image.width;
  small.height = image.height;
  const smallCtx = small.getContext('2d');
  const ctx = canvas.getContext('2d');
  if (smallCtx === null || ctx === null) throw new Error('this browser gives no 2-D canvas context');
  smallCtx.putImageData(image, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

/** Pixel bytes (0..255) to values in [0, 1] for {@link drawGrid}. */
export function bytesToUnit(bytes: Uint8Array): Float32Array {
  return Float32Array.from(bytes, (b) => b / 255);
}
