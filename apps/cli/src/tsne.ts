/**
 * t-SNE of codings for `gm latent-map --method tsne`, through DruidJS's exact t-SNE (van der Maaten & Hinton,
 * 2008; squared Euclidean input distances, early exaggeration 4 for 100 iterations, momentum 0.5 → 0.8, adaptive
 * gains), seeded by DruidJS's own PRNG: the same points, seed and settings give the same map.
 */
import { TSNE } from '@saehrimnir/druidjs';
import { CliError } from './errors';

export interface TsneOptions {
  /** Seed of the initial embedding. */
  seed: number;
  /** Effective number of neighbours (default 30, scikit-learn's); capped at (n − 1) / 3 for few points. */
  perplexity?: number;
  /** Gradient steps (default 1000, scikit-learn's). */
  iterations?: number;
  /** DruidJS's learning rate ε (default 10). */
  learningRate?: number;
  /** Called every `every` iterations with the number done (progress). */
  onIteration?: (done: number, total: number) => void;
}

export interface TsneResult {
  /** `[n, 2]` row-major: x0, y0, x1, y1, … */
  points: Float64Array;
  /** The perplexity used (the requested one, capped for few points). */
  perplexity: number;
  iterations: number;
}

/** The fewest points t-SNE embeds (with fewer, the neighbour distributions are degenerate). */
export const TSNE_MIN_POINTS = 5;

/** 2-D t-SNE embedding of `n` rows of `dim` values (`data` row-major). */
export function tsneEmbedding(data: ArrayLike<number>, n: number, dim: number, options: TsneOptions): TsneResult {
  if (data.length !== n * dim) throw new Error(`tsneEmbedding: expected ${n} × ${dim} = ${n * dim} values, got ${data.length}`);
  if (n < TSNE_MIN_POINTS) throw new CliError(`--n: t-SNE needs at least ${TSNE_MIN_POINTS} points, got ${n}`);
  const iterations = options.iterations ?? 1000;
  const perplexity = Math.min(options.perplexity ?? 30, (n - 1) / 3);
  const rows: Float64Array[] = Array.from({ length: n }, (_, i) => Float64Array.from({ length: dim }, (_, j) => data[i * dim + j] as number));
  const tsne = new TSNE(rows, { perplexity, epsilon: options.learningRate ?? 10, d: 2, seed: options.seed });
  let embedding: Float64Array[] = rows;
  let done = 0;
  for (const y of tsne.generator(iterations)) {
    embedding = y;
    done++;
    if (options.onIteration !== undefined && (done % 50 === 0 || done === iterations)) options.onIteration(done, iterations);
  }
  const points = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const row = embedding[i] as ArrayLike<number>;
    points[2 * i] = row[0] as number;
    points[2 * i + 1] = row[1] as number;
  }
  return { points, perplexity, iterations };
}
