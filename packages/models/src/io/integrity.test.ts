/**
 * Checkpoint integrity covers what it claims (issue 15, item 8): every file and the manifest are under one digest,
 * and a network that the checkpoint's own config does not build is refused — an edited topology, a config that
 * disagrees with the network, edited MADE degrees, a decoder swapped in from another VAE, a removed checksum field.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { sha256Hex } from '@gm/core';
import { MADE } from '../made/made';
import { VAE } from '../vae/vae';
import { loadModel } from '../registry';
import { readCheckpoint, writeCheckpoint } from './checkpoint';
import { memoryStore } from './stores';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

async function savedVae(seed: number, activation: 'relu' | 'elu' = 'relu') {
  const vae = new VAE({ inputShape: [12], hidden: [8], latentDim: 2, activation, seed });
  const store = memoryStore();
  await vae.save(store);
  vae.dispose();
  return store;
}

describe('checkpoint integrity', () => {
  it('loads what it wrote', async () => {
    const m = await loadModel(await savedVae(1));
    expect(m.kind).toBe('vae');
    m.dispose();
  });

  it('refuses an edited topology (relu → sigmoid), naming the file', async () => {
    const store = await savedVae(1);
    // Same length (relu → tanh), so only the digest can tell; a different length is caught by the byte count.
    store.files.set('encoder/model.json', bytes(text(store.files.get('encoder/model.json')!).replace('"relu"', '"tanh"')));
    await expect(loadModel(store)).rejects.toThrow(/memory\/encoder\/model\.json: sha256 [0-9a-f]{64} does not match gm-checkpoint\.json's [0-9a-f]{64}: edited or replaced/);
    const longer = await savedVae(1);
    longer.files.set('encoder/model.json', bytes(text(longer.files.get('encoder/model.json')!).replace('"relu"', '"sigmoid"')));
    await expect(loadModel(longer)).rejects.toThrow(/memory\/encoder\/model\.json: expected \d+ bytes \(gm-checkpoint\.json\), found \d+: truncated, edited or replaced/);
  });

  it("refuses a model.json whose own weights checksum was removed, and a decoder swapped in from another VAE", async () => {
    const store = await savedVae(1);
    const json = JSON.parse(text(store.files.get('decoder/model.json')!)) as Record<string, unknown>;
    delete json['gm'];
    store.files.set('decoder/model.json', bytes(JSON.stringify(json)));
    await expect(loadModel(store)).rejects.toThrow(/decoder\/model\.json: expected \d+ bytes \(gm-checkpoint\.json\), found \d+/);
    const other = await savedVae(2);
    const swapped = await savedVae(1);
    for (const f of ['decoder/model.json', 'decoder/weights.bin']) swapped.files.set(f, other.files.get(f)!);
    await expect(loadModel(swapped)).rejects.toThrow(/decoder\/(model\.json|weights\.bin): .*edited or replaced/);
  });

  it('refuses an edited manifest (config, or its digest removed) and a listed file that is missing', async () => {
    const store = await savedVae(1);
    const manifest = JSON.parse(text(store.files.get('gm-checkpoint.json')!)) as { config: { latentDim: number }; digest?: string };
    manifest.config.latentDim = 3;
    store.files.set('gm-checkpoint.json', bytes(JSON.stringify(manifest)));
    await expect(readCheckpoint(store)).rejects.toThrow(/gm-checkpoint\.json: the manifest's digest [0-9a-f]{64} does not match its content/);
    delete manifest.digest;
    store.files.set('gm-checkpoint.json', bytes(JSON.stringify(manifest)));
    await expect(readCheckpoint(store)).rejects.toThrow(/gm-checkpoint\.json: field "digest" must be the SHA-256 of the manifest/);
    const missing = await savedVae(1);
    missing.files.delete('encoder/weights.bin');
    await expect(loadModel(missing)).rejects.toThrow(/memory\/encoder\/weights\.bin: no such file/);
  });

  it('refuses a sealed checkpoint whose config does not build its network (activation, then MADE degrees)', async () => {
    // Written through the checkpoint writer, so every digest is right: only the config check can catch these.
    const relu = new VAE({ inputShape: [12], hidden: [8], latentDim: 2, activation: 'relu', seed: 1 });
    const store = memoryStore();
    await writeCheckpoint(store, { kind: 'vae', config: { inputShape: [12], hidden: [8], latentDim: 2, activation: 'elu', seed: 1 } }, { encoder: relu.encoder, decoder: relu.decoder });
    await expect(VAE.load(store)).rejects.toThrow(/memory\/encoder\/model\.json: layer 1 \(Dense\) differs from what the checkpoint's config builds: the topology or the config was edited/);
    relu.dispose();

    const random = new MADE({ inputSize: 6, hidden: [10], ordering: 'random', seed: 3 });
    const natural = new MADE({ inputSize: 6, hidden: [10], ordering: 'natural', seed: 3 });
    const made = memoryStore();
    await random.save(made);
    // The natural-order model's config and pool with the random-order network.
    const manifest = (await readCheckpoint(made)).manifest;
    const naturalStore = memoryStore();
    await natural.save(naturalStore);
    const naturalManifest = (await readCheckpoint(naturalStore)).manifest;
    const mixed = memoryStore();
    await writeCheckpoint(mixed, { kind: 'made', config: naturalManifest.config, extra: naturalManifest.extra! }, { network: (random as unknown as { network: Parameters<typeof writeCheckpoint>[2][string] }).network });
    await expect(MADE.load(mixed)).rejects.toThrow(/memory\/network\/model\.json: layer \d+ \(GmMaskedDense\) differs from what the checkpoint's config builds/);
    expect(manifest.kind).toBe('made');
    [random, natural].forEach((m) => m.dispose());
  });
});

describe('non-finite weights', () => {
  it('are never saved, and a checkpoint holding them is refused on load, naming the weight', async () => {
    const vae = new VAE({ inputShape: [12], hidden: [8], latentDim: 2, seed: 1 });
    const good = memoryStore();
    await vae.save(good);
    const w = vae.trainableVariables()[0]!;
    w.assign(tf.fill(w.shape, Number.NaN));
    const store = memoryStore(good.files);
    await expect(vae.save(store)).rejects.toThrow(/refusing to save a model with non-finite weights \(it diverged\)/);
    expect(store.files).toEqual(good.files); // the good checkpoint is untouched
    vae.dispose();
    // A legacy (version 1) checkpoint has no manifest digests: build one whose weights hold a NaN, with model.json's
    // own checksum updated, so only the finiteness check can refuse it.
    const legacy = memoryStore(good.files);
    const weights = new Float32Array(good.files.get('encoder/weights.bin')!.slice().buffer);
    weights[3] = Number.NaN;
    const bin = new Uint8Array(weights.buffer);
    const model = JSON.parse(text(good.files.get('encoder/model.json')!)) as { gm: { weightsSha256: string } };
    model.gm.weightsSha256 = sha256Hex(bin);
    legacy.files.set('encoder/weights.bin', bin);
    legacy.files.set('encoder/model.json', bytes(JSON.stringify(model)));
    const manifest = JSON.parse(text(good.files.get('gm-checkpoint.json')!)) as Record<string, unknown>;
    legacy.files.set('gm-checkpoint.json', bytes(JSON.stringify({ ...manifest, version: 1, files: Object.keys(manifest['files'] as object), digest: undefined })));
    await expect(loadModel(legacy)).rejects.toThrow(/memory\/encoder\/weights\.bin: weight ".*" holds NaN at index 3: the model had diverged/);
  });

  it('a refused load leaves no tensors behind (the NaN in the decoder, after the encoder was built)', async () => {
    const good = await savedVae(1);
    const legacy = memoryStore(good.files);
    const weights = new Float32Array(good.files.get('decoder/weights.bin')!.slice().buffer);
    weights[0] = Number.POSITIVE_INFINITY;
    const bin = new Uint8Array(weights.buffer);
    const model = JSON.parse(text(good.files.get('decoder/model.json')!)) as { gm: { weightsSha256: string } };
    model.gm.weightsSha256 = sha256Hex(bin);
    legacy.files.set('decoder/weights.bin', bin);
    legacy.files.set('decoder/model.json', bytes(JSON.stringify(model)));
    const manifest = JSON.parse(text(good.files.get('gm-checkpoint.json')!)) as Record<string, unknown>;
    legacy.files.set('gm-checkpoint.json', bytes(JSON.stringify({ ...manifest, version: 1, files: Object.keys(manifest['files'] as object), digest: undefined })));
    await expect(loadModel(legacy)).rejects.toThrow(/decoder\/weights\.bin: weight ".*" holds Infinity/); // warm up
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) await expect(loadModel(legacy)).rejects.toThrow(/holds Infinity/);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('verification without WebCrypto (a page on an insecure origin has no crypto.subtle)', () => {
  it('still checks every digest', async () => {
    const store = await savedVae(1);
    vi.stubGlobal('crypto', undefined);
    try {
      expect(globalThis.crypto).toBeUndefined();
      (await loadModel(store)).dispose();
      store.files.set('decoder/weights.bin', store.files.get('decoder/weights.bin')!.map((b, i) => (i === 0 ? b ^ 1 : b)));
      await expect(loadModel(store)).rejects.toThrow(/decoder\/weights\.bin: sha256 [0-9a-f]{64} does not match/);
    } finally {
      vi.unstubAllGlobals();
    }
  });
});
