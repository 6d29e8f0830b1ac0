/** MADE's configuration: what it is, its defaults, and its validation (errors name the field). */

/** Hidden-layer activations MADE accepts. */
export const MADE_ACTIVATIONS = ['relu', 'elu', 'tanh', 'selu', 'softplus', 'sigmoid'] as const;
export type MadeActivation = (typeof MADE_ACTIVATIONS)[number];

/**
 * How to build a {@link MADE} over binary vectors of length `inputSize`.
 */
export interface MadeConfig {
  /** Number of binary inputs D (≥ 2), e.g. 784 for binarized MNIST. */
  inputSize: number;
  /** Units of each hidden layer (default `[500]`; the paper's best MNIST model used `[500, 500]`). */
  hidden?: number[];
  /** Hidden activation (default `'relu'`). */
  activation?: MadeActivation;
  /**
   * Input ordering: `'natural'` (default), `'reversed'`, `'random'` (seeded by `seed`), or explicit degrees (a
   * permutation of 0…D−1, `ordering[d]` = position of input d in the autoregressive order).
   */
  ordering?: 'natural' | 'reversed' | 'random' | number[];
  /** Direct input → output connection (default true). */
  directConnection?: boolean;
  /**
   * Size K of the mask pool for connectivity-agnostic training (default 1). With K > 1 each training step uses one
   * of K hidden-degree assignments (same weights), and the test-time ensemble averages the K models' probabilities.
   */
  masks?: number;
  /** Also draw a new random ordering for every mask of the pool (order-agnostic training; default false). */
  orderAgnostic?: boolean;
  /** Seed of the weights, the ordering and the mask pool (default 0). */
  seed?: number;
}

/** A config with every default filled in (what checkpoints store). */
export interface ResolvedMadeConfig {
  inputSize: number;
  hidden: number[];
  activation: MadeActivation;
  ordering: 'natural' | 'reversed' | 'random' | number[];
  directConnection: boolean;
  masks: number;
  orderAgnostic: boolean;
  seed: number;
}

function fail(field: string, expected: string, got: unknown): never {
  throw new Error(`MADE config: "${field}" must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
}

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Validates a config and fills in the defaults; throws an Error naming the bad field and what was expected. */
export function resolveMadeConfig(config: MadeConfig): ResolvedMadeConfig {
  if (config === null || typeof config !== 'object') fail('config', 'an object', config);
  const D = config.inputSize;
  if (!isPosInt(D) || D < 2) fail('inputSize', 'an integer ≥ 2', D);
  const hidden = config.hidden ?? [500];
  if (!Array.isArray(hidden) || hidden.length === 0 || !hidden.every(isPosInt)) {
    fail('hidden', 'a non-empty array of positive integers', hidden);
  }
  const activation = config.activation ?? 'relu';
  if (!(MADE_ACTIVATIONS as readonly string[]).includes(activation)) fail('activation', `one of ${MADE_ACTIVATIONS.join(', ')}`, activation);
  const ordering = config.ordering ?? 'natural';
  if (Array.isArray(ordering)) {
    const seen = new Uint8Array(D);
    const ok =
      ordering.length === D &&
      ordering.every((v) => {
        if (!Number.isInteger(v) || v < 0 || v >= D || seen[v] === 1) return false;
        seen[v] = 1;
        return true;
      });
    if (!ok) fail('ordering', `a permutation of 0…${D - 1} (or 'natural', 'reversed', 'random')`, ordering);
  } else if (ordering !== 'natural' && ordering !== 'reversed' && ordering !== 'random') {
    fail('ordering', "'natural', 'reversed', 'random' or an array of degrees", ordering);
  }
  const directConnection = config.directConnection ?? true;
  if (typeof directConnection !== 'boolean') fail('directConnection', 'a boolean', directConnection);
  const masks = config.masks ?? 1;
  if (!isPosInt(masks)) fail('masks', 'a positive integer', masks);
  const orderAgnostic = config.orderAgnostic ?? false;
  if (typeof orderAgnostic !== 'boolean') fail('orderAgnostic', 'a boolean', orderAgnostic);
  const seed = config.seed ?? 0;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) fail('seed', 'a finite number', seed);
  return {
    inputSize: D,
    hidden: [...hidden],
    activation,
    ordering: Array.isArray(ordering) ? [...ordering] : ordering,
    directConnection,
    masks,
    orderAgnostic,
    seed,
  };
}
