/**
 * A live training curve on a canvas: every batch's loss as a thin line, each epoch's mean as a dot, the axis labelled
 * in the loss's unit. The first batches of a fresh model are far above the rest, so the vertical range is set by the
 * later 95% (earlier points above it are drawn at the top edge).
 */
export class LossCurve {
  private batches: number[] = [];
  private epochMeans: Array<{ at: number; mean: number }> = [];
  private epochSum = 0;
  private epochCount = 0;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly unit: string,
  ) {
    this.draw();
  }

  clear(): void {
    this.batches = [];
    this.epochMeans = [];
    this.epochSum = 0;
    this.epochCount = 0;
    this.draw();
  }

  /** Adds one batch's loss; `epochEnd` closes the epoch (its mean becomes a dot). */
  add(loss: number, epochEnd: boolean): void {
    this.batches.push(loss);
    this.epochSum += loss;
    this.epochCount++;
    if (epochEnd) {
      this.epochMeans.push({ at: this.batches.length - 1, mean: this.epochSum / this.epochCount });
      this.epochSum = 0;
      this.epochCount = 0;
    }
  }

  /** The last closed epoch's mean loss (NaN before the first). */
  get lastEpochMean(): number {
    return this.epochMeans.at(-1)?.mean ?? Number.NaN;
  }

  draw(): void {
    const ctx = this.canvas.getContext('2d');
    if (ctx === null) return;
    const { width, height } = this.canvas;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, width, height);
    const left = 48;
    const bottom = height - 18;
    const top = 8;
    ctx.strokeStyle = '#999';
    ctx.beginPath();
    ctx.moveTo(left, top);
    ctx.lineTo(left, bottom);
    ctx.lineTo(width - 4, bottom);
    ctx.stroke();
    ctx.fillStyle = '#444';
    ctx.font = '11px system-ui, sans-serif';
    const n = this.batches.length;
    this.canvas.dataset.batches = String(n); // for tests and tools: how many batches the curve holds
    if (n === 0) {
      ctx.fillText(`loss (${this.unit}) per batch appears here while a model trains`, left + 8, (top + bottom) / 2);
      return;
    }
    const later = this.batches.slice(Math.floor(n * 0.05));
    const hi = Math.max(...later);
    const lo = Math.min(...later);
    const span = hi - lo || Math.abs(hi) || 1;
    const y = (v: number) => bottom - ((Math.min(v, hi) - lo) / span) * (bottom - top);
    const x = (i: number) => left + (n === 1 ? 0 : (i / (n - 1)) * (width - 4 - left));
    ctx.fillText(hi.toFixed(1), 2, top + 8);
    ctx.fillText(lo.toFixed(1), 2, bottom);
    ctx.fillText(`${this.unit}; ${n} batches`, left + 6, height - 4);
    ctx.strokeStyle = '#9bb7e0';
    ctx.beginPath();
    this.batches.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
    ctx.stroke();
    ctx.fillStyle = '#1a56c4';
    for (const e of this.epochMeans) {
      ctx.beginPath();
      ctx.arc(x(e.at), y(e.mean), 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
}
