/**
 * The 2-D flow panel: a neural spline flow living in a worker (worker/flow-2d.ts) — the one shipped with the page
 * (two moons) at once, or one trained live on two moons, three rings or points the user draws — drawn as its density
 * on the page's grid (with the grid's total, ≈ 1 for a density whose mass lies in the picture) and its samples.
 */
import * as Comlink from 'comlink';
import type { BackendName } from '@gm/backend';
import { rings, twoMoons } from '@gm/data';
import { gridIntegral, type Box, type DensityGrid } from './density-grid';
import { drawDensity, drawPoints, fromCanvas } from './density-plot';
import { el, messageOf } from './dom';
import { LossCurve } from './loss-curve';
import { startPanelWorker } from './panel-worker-client';
import { shippedUrl, type ShippedModel } from './shipped';
import type { TrainProgress } from './worker/training-control';

/** Cells per side of the density grid. */
export const GRID_SIZE = 96;
const SAMPLES = 1000;
const TRAIN_POINTS = 2000;
/** Seed of the samples drawn with each frame (the same draws each time, so frames show the flow changing). */
const FRAME_SEED = 1;

/** The data sets: how to make their points and the square box they are drawn in. */
const SETS: Record<'moons' | 'rings' | 'drawn', { box: Box; make?: (n: number, seed: number) => Float32Array }> = {
  moons: { box: [-1.75, 2.75, -2, 2.5], make: (n, seed) => twoMoons(n, { seed, noise: 0.05 }).points },
  rings: { box: [-4, 4, -4, 4], make: (n, seed) => rings(n, { seed, noise: 0.05 }).points },
  drawn: { box: [-3, 3, -3, 3] },
};
type SetName = keyof typeof SETS;

type State = 'loading' | 'training' | 'paused' | 'ready' | 'error';

export interface FlowPanelOptions {
  backend: BackendName | undefined;
  wasmPaths: string;
  shipped: ShippedModel[];
}

export interface FlowPanel {
  tensors(): Promise<number>;
}

export function initFlowPanel(options: FlowPanelOptions): FlowPanel {
  const ui = {
    panel: el<HTMLElement>('flow'),
    data: el<HTMLSelectElement>('flow-data'),
    epochs: el<HTMLInputElement>('flow-epochs'),
    train: el<HTMLButtonElement>('flow-train'),
    pause: el<HTMLButtonElement>('flow-pause'),
    stop: el<HTMLButtonElement>('flow-stop'),
    clear: el<HTMLButtonElement>('flow-clear'),
    status: el<HTMLElement>('flow-status'),
    error: el<HTMLElement>('flow-error'),
    model: el<HTMLElement>('flow-model'),
    count: el<HTMLElement>('flow-count'),
    points: el<HTMLCanvasElement>('flow-points'),
    density: el<HTMLCanvasElement>('flow-density'),
    integral: el<HTMLOutputElement>('flow-integral'),
    samples: el<HTMLCanvasElement>('flow-samples'),
    curve: el<HTMLCanvasElement>('flow-curve'),
  };
  const remote = startPanelWorker();
  const worker = remote.flow;
  const curve = new LossCurve(ui.curve, 'nats');
  let drawn: number[] = [];

  let generation = 0;

  const setState = (state: State, status: string): void => {
    ui.panel.dataset.state = state;
    ui.status.textContent = status;
  };
  const fail = (error: unknown): void => {
    ui.error.textContent = messageOf(error);
    ui.error.hidden = false;
    console.warn(`gm demo (flow): ${messageOf(error)}`);
    setState('error', 'Stopped: see the error above.');
    setTraining(false);
  };
  const setTraining = (on: boolean): void => {
    ui.pause.disabled = !on;
    ui.stop.disabled = !on;
    ui.pause.textContent = 'Pause';
    ui.train.disabled = on;
  };
  const setName = (): SetName => ui.data.value as SetName;
  const grid = (): DensityGrid => ({ box: SETS[setName()].box, size: GRID_SIZE });

  /** The points of the chosen set (seeded), or the user's. */
  const dataPoints = (): Float32Array => {
    const set = SETS[setName()];
    return set.make === undefined ? Float32Array.from(drawn) : set.make(TRAIN_POINTS, 1);
  };

  const showData = (): void => {
    const points = dataPoints();
    ui.count.textContent = String(points.length / 2);
    drawPoints(ui.points, SETS[setName()].box, points, '#1a56c4');
    ui.clear.hidden = setName() !== 'drawn';
  };

  /** Asks the worker for the density and samples on the current grid and draws them. */
  const showFrame = async (mine: number): Promise<void> => {
    const g = grid();
    const frame = await worker.frame(g, SAMPLES, FRAME_SEED);
    if (mine !== generation) return;
    drawDensity(ui.density, g, frame.density);
    const total = gridIntegral(g, frame.density);
    ui.integral.value = total.toFixed(3);
    ui.integral.dataset.value = String(total);
    drawPoints(ui.samples, g.box, frame.samples, '#c4421a');
  };

  const train = async (): Promise<void> => {
    ui.error.hidden = true;
    const epochs = Number(ui.epochs.value);
    if (!Number.isInteger(epochs) || epochs < 1 || epochs > 2000) throw new Error(`epochs must be an integer from 1 to 2000, got "${ui.epochs.value}"`);
    const points = dataPoints();
    if (points.length / 2 < 20) throw new Error(`draw at least 20 points first (click or drag on the left picture); there are ${points.length / 2}`);
    const mine = ++generation;
    curve.clear();
    setTraining(true);
    setState('training', `Training a spline flow in the worker on ${points.length / 2} points…`);
    ui.model.textContent = 'a new spline flow, training';
    let drawing = Promise.resolve();
    const progress = (p: TrainProgress): void => {
      if (mine !== generation) return;
      curve.add(p.loss, p.epochEnd);
      if (!p.epochEnd) return;
      curve.draw();
      if (ui.panel.dataset.state === 'training') {
        ui.status.textContent = `Training in the worker: epoch ${p.epoch}/${p.epochs}, −log p ${curve.lastEpochMean.toFixed(3)} nats per point (${p.seconds.toFixed(1)} s)`;
      }
      // Every other epoch, redraw the density and samples (the worker computes them between batches).
      if (p.epoch % 2 === 0) drawing = drawing.then(() => showFrame(mine));
    };
    try {
      const summary = await worker.train({ points, epochs, batchSize: 256, learningRate: 3e-3, seed: 1 }, Comlink.proxy(progress));
      await drawing;
      if (mine !== generation) return;
      await showFrame(mine);
      ui.model.textContent = `${await worker.describe()}; trained here, ${summary.epochs} epochs`;
      const how = summary.stopReason === 'aborted' ? `Stopped after ${summary.epochs} epochs` : `Trained ${summary.epochs} epochs`;
      setState('ready', `${how} in ${summary.seconds.toFixed(1)} s; final −log p ${curve.lastEpochMean.toFixed(3)} nats per point.`);
    } finally {
      if (mine === generation) setTraining(false);
    }
  };

  // Drawing your own points: a click adds a small cloud, a drag adds points along the way.
  let drawing = false;
  const addAt = (event: PointerEvent, spread: number, count: number): void => {
    if (setName() !== 'drawn') return;
    const rect = ui.points.getBoundingClientRect();
    const px = ((event.clientX - rect.left) / rect.width) * ui.points.width;
    const py = ((event.clientY - rect.top) / rect.height) * ui.points.height;
    const [x, y] = fromCanvas(SETS.drawn.box, ui.points, px, py);
    for (let i = 0; i < count; i++) {
      // A Gaussian jitter (Box–Muller) so a click is a small blob the flow can fit, not one point.
      const r = spread * Math.sqrt(-2 * Math.log(1 - Math.random()));
      const a = 2 * Math.PI * Math.random();
      drawn.push(x + r * Math.cos(a), y + r * Math.sin(a));
    }
    showData();
  };
  ui.points.addEventListener('pointerdown', (e) => {
    drawing = true;
    addAt(e, 0.12, 20);
  });
  ui.points.addEventListener('pointermove', (e) => {
    if (drawing) addAt(e, 0.06, 3);
  });
  for (const end of ['pointerup', 'pointerleave'] as const) ui.points.addEventListener(end, () => (drawing = false));
  ui.clear.addEventListener('click', () => {
    drawn = [];
    showData();
  });
  ui.data.addEventListener('change', showData);
  ui.train.addEventListener('click', () => train().catch(fail));
  ui.pause.addEventListener('click', () => {
    if (ui.panel.dataset.state === 'paused') {
      worker.resume().catch(fail);
      ui.pause.textContent = 'Pause';
      setState('training', 'Training resumed…');
    } else {
      worker.pause().catch(fail);
      ui.pause.textContent = 'Resume';
      setState('paused', 'Paused: the worker waits after its current batch.');
    }
  });
  ui.stop.addEventListener('click', () => worker.stop().catch(fail));

  const start = async (): Promise<void> => {
    await remote.start(options.backend, options.wasmPaths);
    showData();
    const shipped = options.shipped.find((s) => s.panel === 'flow');
    if (shipped !== undefined) {
      const mine = ++generation;
      ui.model.textContent = `${await worker.loadUrl(shippedUrl(shipped))} — shipped: ${shipped.trainedWith}`;
      await showFrame(mine);
      setState('ready', `Showing the shipped ${shipped.label}. Pick data (or draw) and press Train to watch a new one learn.`);
    } else {
      setState('ready', 'Pick data (or draw) and press Train.');
    }
    ui.train.disabled = false;
  };
  start().catch(fail);
  return { tensors: () => worker.tensors() };
}
