/**
 * A latent-variable model's coding description (@gm/core's `GaussianLatentCoding`) as the pieces bits-back coding
 * needs, computed deterministically: q(z|x) (mean and σ of each latent, from the encoder network) and p(x|z) (an
 * observation codec built from the decoder's outputs: Bernoulli, discretized logistic or its mixture).
 */
import { GmError, type GaussianLatentCoding } from '@gm/core';
import type { DenseEngine } from '../exact/dense';
import { exactExp, exactSigmoid, logisticMass, tableExp, tableLogSigmoidSum } from '../exact/math';
import { bernoulliBatch, discretizedLogisticBatch, LogProbSum, type ScoredCodec } from '../codecs';
import { NetworkEvaluator } from './network';

/** Precisions of the quantised distributions (file settings). */
export interface LatentPrecisions {
  /** Bits of the pixel codec's quantisation. */
  likelihoodPrecision: number;
}

export interface LatentCoder {
  readonly latentDim: number;
  readonly pixelsPerImage: number;
  readonly pixels: 'binary' | 'u8';
  /** q(z|x) of `batch` images (pixel values, `batch × D`): mean and σ per latent, `batch × latentDim` each. */
  posterior(pixels: ArrayLike<number>, batch: number): { mean: Float64Array; std: Float64Array };
  /** The codec of `batch` images' pixels given their latents (bucket centres, `batch × latentDim`), image b on lane b;
   * its `logProb` scores images under it. */
  observation(z: Float32Array, batch: number): ScoredCodec<ArrayLike<number>>;
  /** log p(x|z) in nats for each of `rows` latent rows of `z`, row r scoring image ⌊r / rowsPerImage⌋ of `pixels`
   * (k particles of each image: rowsPerImage = k): deterministic scores for importance weights (Bernoulli:
   * interpolated log σ, within 1e-5 per pixel of the exact value; 8-bit: the discretized logistic (mixture) with
   * interpolated σ and exp, within ~1e-4 relative per pixel). */
  logLikelihoods(z: Float32Array, rows: number, pixels: Uint8Array, rowsPerImage: number): Float64Array;
}

/** The coder's view of a Gaussian-latent model; `engine` evaluates its networks. */
export function latentCoder(model: GaussianLatentCoding, engine: DenseEngine, precisions: LatentPrecisions): LatentCoder {
  const D = model.pixelsPerImage;
  const L = model.latentDim;
  const obs = model.observation;
  const perPixel = obs.kind === 'bernoulli' ? 1 : obs.kind === 'discretized-logistic' ? 2 : 3 * obs.components;
  if (model.encoder.inputSize !== D || model.encoder.outputSize !== 2 * L) {
    throw new GmError('CORRUPT', 'coding model: encoder', `${D} → ${2 * L} values (pixels → [mean ‖ log σ]), got ${model.encoder.inputSize} → ${model.encoder.outputSize}`);
  }
  if (model.decoder.inputSize !== L || model.decoder.outputSize !== D * perPixel) {
    throw new GmError('CORRUPT', 'coding model: decoder', `${L} → ${D * perPixel} values (${perPixel} per pixel), got ${model.decoder.inputSize} → ${model.decoder.outputSize}`);
  }
  if ((model.pixels === 'binary') !== (obs.kind === 'bernoulli')) {
    throw new GmError('CORRUPT', 'coding model', `${model.pixels} pixels need a ${model.pixels === 'binary' ? 'bernoulli' : 'discretized-logistic'} observation, got ${obs.kind}`);
  }
  const encoder = new NetworkEvaluator(model.encoder, engine, 'coding model: encoder');
  const decoder = new NetworkEvaluator(model.decoder, engine, 'coding model: decoder');
  const P = precisions.likelihoodPrecision;
  // The decoder's outputs per pixel: [mean, log-scale] (one logistic) or [C logits, C means, C log-scales].
  const C = obs.kind === 'discretized-logistic' ? 1 : obs.kind === 'discretized-logistic-mixture' ? obs.components : 0;
  const minLogScale = obs.kind === 'bernoulli' ? 0 : obs.minLogScale;
  const logisticLogLikelihoods = (out: Float32Array, rows: number, pixels: Uint8Array, rowsPerImage: number): Float64Array => {
    const res = new Float64Array(rows);
    const weights = new Float64Array(C);
    const floor = 2 ** -32; // LogProbSum's smallest factor
    const least = 2 / 2 ** P;
    const spread = 1 - 512 / 2 ** P;
    for (let r = 0; r < rows; r++) {
      const x = Math.floor(r / rowsPerImage) * D;
      const sum = new LogProbSum();
      for (let d = 0; d < D; d++) {
        const v = pixels[x + d]!;
        const lo = (2 * v - 1) / 255 - 1; // bin edges on [−1, 1]; the end bins are open
        const hi = (2 * v + 1) / 255 - 1;
        const base = (r * D + d) * perPixel;
        let total = 1;
        if (C > 1) {
          let max = -Infinity;
          for (let c = 0; c < C; c++) max = Math.max(max, out[base + c]!);
          total = 0;
          for (let c = 0; c < C; c++) total += weights[c] = tableExp(out[base + c]! - max);
        } else weights[0] = 1;
        let p = 0;
        for (let c = 0; c < C; c++) {
          const mean = out[base + (C > 1 ? C + c : 0)]!;
          const invS = tableExp(-Math.max(out[base + (C > 1 ? 2 * C + c : 1)]!, minLogScale));
          p += weights[c]! * logisticMass(v === 0 ? -Infinity : (lo - mean) * invS, v === 255 ? Infinity : (hi - mean) * invS);
        }
        // As the codec quantises it: every value keeps 2 of the 2^P slots (codecs.ts), the rest scaled to fit.
        sum.add(Math.max((p / total) * spread + least, floor));
      }
      res[r] = sum.value();
    }
    return res;
  };
  const observation = (z: Float32Array, batch: number): ScoredCodec<ArrayLike<number>> => {
    const out = decoder.run(z, batch);
    if (obs.kind === 'bernoulli') {
      const probs = new Float64Array(out.length);
      for (let i = 0; i < out.length; i++) probs[i] = exactSigmoid(out[i]!);
      return bernoulliBatch(probs, batch, D, P);
    }
    const C = obs.kind === 'discretized-logistic' ? 1 : obs.components;
    const mean = new Float64Array(batch * D * C);
    const logScale = new Float64Array(batch * D * C);
    const logits = C > 1 ? new Float64Array(batch * D * C) : undefined;
    for (let i = 0; i < batch * D; i++) {
      const base = i * perPixel;
      for (let c = 0; c < C; c++) {
        if (C === 1) {
          mean[i] = out[base]!;
          logScale[i] = out[base + 1]!;
        } else {
          (logits as Float64Array)[i * C + c] = out[base + c]!;
          mean[i * C + c] = out[base + C + c]!;
          logScale[i * C + c] = out[base + 2 * C + c]!;
        }
      }
    }
    return discretizedLogisticBatch({ mean, logScale, minLogScale: obs.minLogScale, ...(logits === undefined ? {} : { logits, components: C }) }, batch, D, P);
  };
  return {
    latentDim: L,
    pixelsPerImage: D,
    pixels: model.pixels,
    posterior(pixels, batch) {
      const out = encoder.run(Float32Array.from(pixels), batch);
      const mean = new Float64Array(batch * L);
      const std = new Float64Array(batch * L);
      for (let b = 0; b < batch; b++) {
        for (let j = 0; j < L; j++) {
          mean[b * L + j] = out[b * 2 * L + j]!;
          std[b * L + j] = exactExp(out[b * 2 * L + L + j]!);
        }
      }
      return { mean, std };
    },
    logLikelihoods(z, rows, pixels, rowsPerImage) {
      if (obs.kind !== 'bernoulli') return logisticLogLikelihoods(decoder.run(z, rows), rows, pixels, rowsPerImage);
      const logits = decoder.run(z, rows);
      const out = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        out[r] = tableLogSigmoidSum(logits, r * D, pixels, Math.floor(r / rowsPerImage) * D, D);
      }
      return out;
    },
    observation,
  };
}
