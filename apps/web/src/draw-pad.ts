/**
 * A canvas to draw a digit on with the mouse, a finger or a pen: white ink on black, as MNIST digits are, with strokes
 * thick enough to survive the scaling to 28×28. `toFile` gives the drawing framed as MNIST frames its digits — the ink's
 * bounding box scaled to fit 20×20, centred in 28×28 — as a PNG file, so drawn digits go through the same picture
 * reading as dropped ones and look like the digits the models were trained on.
 */
export class DrawPad {
  private drawing = false;
  private last: [number, number] | undefined;
  private inked = false;

  constructor(private readonly canvas: HTMLCanvasElement) {
    canvas.style.touchAction = 'none'; // a finger draws instead of scrolling the page
    canvas.addEventListener('pointerdown', (e) => {
      this.drawing = true;
      canvas.setPointerCapture(e.pointerId);
      this.last = this.at(e);
      this.stroke(this.last, this.last);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.drawing || this.last === undefined) return;
      const next = this.at(e);
      this.stroke(this.last, next);
      this.last = next;
    });
    for (const end of ['pointerup', 'pointercancel'] as const) {
      canvas.addEventListener(end, () => {
        this.drawing = false;
        this.last = undefined;
      });
    }
    this.clear();
  }

  /** Whether anything has been drawn since the last clear. */
  get empty(): boolean {
    return !this.inked;
  }

  clear(): void {
    const ctx = this.context();
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.inked = false;
  }

  /** The drawing, framed as MNIST (ink in a 20×20 box centred in 28×28), as a PNG file named `name`. */
  async toFile(name: string): Promise<File> {
    const { width, height } = this.canvas;
    const ink = this.context().getImageData(0, 0, width, height).data;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if ((ink[4 * (y * width + x)] as number) < 32) continue;
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
    if (x1 < 0) throw new Error('the square is empty: draw a digit first');
    const w = x1 - x0 + 1;
    const h = y1 - y0 + 1;
    const scale = 20 / Math.max(w, h);
    const framed = document.createElement('canvas');
    framed.width = 28;
    framed.height = 28;
    const ctx = framed.getContext('2d');
    if (ctx === null) throw new Error('this browser gives no 2-D canvas context');
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, 28, 28);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = 'high';
    ctx.drawImage(this.canvas, x0, y0, w, h, (28 - w * scale) / 2, (28 - h * scale) / 2, w * scale, h * scale);
    const blob = await new Promise<Blob | null>((resolve) => framed.toBlob(resolve, 'image/png'));
    if (blob === null) throw new Error('this browser could not encode the drawing as PNG');
    return new File([blob], name, { type: 'image/png' });
  }

  private at(e: PointerEvent): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    return [((e.clientX - rect.left) / rect.width) * this.canvas.width, ((e.clientY - rect.top) / rect.height) * this.canvas.height];
  }

  private stroke(from: [number, number], to: [number, number]): void {
    const ctx = this.context();
    ctx.strokeStyle = '#fff';
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = this.canvas.width / 12; // ≈ 2.3 of the 28 pixels, MNIST's stroke
    ctx.beginPath();
    ctx.moveTo(...from);
    ctx.lineTo(...to);
    ctx.stroke();
    this.inked = true;
  }

  private context(): CanvasRenderingContext2D {
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) throw new Error('this browser gives no 2-D canvas context');
    return ctx;
  }
}
