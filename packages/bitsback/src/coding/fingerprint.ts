/**
 * The one model fingerprint of gm's coder: SHA-256 over everything a coding model feeds the entropy coder — its
 * kind, sizes, order and observation, and every operation (register names included) with every weight's bits. A
 * .gmz header records it and a decoder refuses a model with another, so the library, the CLI and a page agree on
 * "the same model" by construction (they all hand over `model.codingModel()`), whatever tfjs backend or checkpoint
 * format it came from.
 */
import { GmError, sha256Hasher, toHex, type CodingModel, type PortableNetwork, type PortableOp } from '@gm/core';

/** Float32 values as little-endian bytes (a Float32Array's own bytes follow the machine's byte order). */
function littleEndian(values: Float32Array | Int32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  if (values instanceof Float32Array) for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  else for (let i = 0; i < values.length; i++) view.setInt32(4 * i, values[i]!, true);
  return out;
}

/** One op's structure. A dense layer's second-input register is listed only when it has one, so the networks
 * written before registers existed keep their fingerprints. */
function opShape(o: PortableOp): unknown[] {
  switch (o.op) {
    case 'dense': {
      const shape: unknown[] = ['dense', o.inputSize, o.units, o.bias !== null, o.inputKernel !== undefined];
      return o.inputSlot === undefined ? shape : [...shape, o.inputSlot];
    }
    case 'activation':
      return ['activation', o.fn];
    case 'scale-shift':
      return ['scale-shift', o.scale, o.shift];
    case 'store':
    case 'load':
    case 'concat':
      return [o.op, o.slot];
    case 'combine':
      return [o.op, o.fn, o.slot];
    default:
      throw new GmError('CORRUPT', 'coding model', `a known network op, got ${JSON.stringify((o as { op?: unknown }).op)}`);
  }
}

/**
 * The structure of a network without its weights (their sizes follow from it), as a fixed list of values: key
 * order in the caller's objects must not change the fingerprint.
 */
function networkShape(net: PortableNetwork): unknown[] {
  return [net.inputSize, net.outputSize, net.ops.map(opShape)];
}

function observationShape(model: CodingModel): unknown[] {
  if (model.kind !== 'gaussian-latent') return [];
  const o = model.observation;
  return o.kind === 'bernoulli' ? [o.kind] : o.kind === 'discretized-logistic' ? [o.kind, o.minLogScale] : [o.kind, o.components, o.minLogScale];
}

function networksOf(model: CodingModel): PortableNetwork[] {
  return model.kind === 'gaussian-latent' ? [model.encoder, model.decoder] : [model.network];
}

/** The model's fingerprint: 32 bytes (SHA-256). */
export function codingModelDigest(model: CodingModel): Uint8Array {
  const h = sha256Hasher();
  const structure =
    model.kind === 'gaussian-latent'
      ? [model.kind, model.pixels, model.pixelsPerImage, model.latentDim, observationShape(model)]
      : [model.kind, model.pixelsPerImage];
  const networks = networksOf(model);
  h.update(new TextEncoder().encode(`gm coding model 1\n${JSON.stringify([structure, networks.map(networkShape)])}\n`));
  if (model.kind === 'autoregressive-bernoulli') h.update(littleEndian(model.order));
  for (const net of networks) {
    for (const o of net.ops) {
      if (o.op !== 'dense') continue;
      h.update(littleEndian(o.kernel));
      if (o.bias !== null) h.update(littleEndian(o.bias));
      if (o.inputKernel !== undefined) h.update(littleEndian(o.inputKernel));
    }
  }
  return h.digest();
}

/** The model's fingerprint as 64 hex digits (what reports and error messages show). */
export function codingModelFingerprint(model: CodingModel): string {
  return toHex(codingModelDigest(model));
}
