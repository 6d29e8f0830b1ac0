import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpointPart, readCheckpointManifest, saveCheckpoint } from './checkpoint';
import { fileSystemIO } from './fs-handler';

const work = mkdtempSync(join(tmpdir(), 'gm-io-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function tinyModel(seed: number) {
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ units: 3, inputShape: [4], activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed }) }));
  model.add(tfl.layers.dense({ units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 1 }) }));
  return model;
}

const x = () => tf.tensor2d([[1, 2, 3, 4], [-1, 0.5, 0, 2]]);

describe('fileSystemIO', () => {
  it('round-trips a model with identical outputs', async () => {
    const model = tinyModel(1);
    const dir = join(work, 'plain');
    await model.save(fileSystemIO(dir));
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tfl.loadLayersModel(fileSystemIO(dir));
    expect(Array.from((loaded.predict(x()) as tf.Tensor).dataSync())).toEqual(Array.from((model.predict(x()) as tf.Tensor).dataSync()));
  });

  it('refuses truncated or corrupted weights, naming the file', async () => {
    const dir = join(work, 'corrupt');
    await tinyModel(2).save(fileSystemIO(dir));
    const weights = readFileSync(join(dir, 'weights.bin'));
    writeFileSync(join(dir, 'weights.bin'), weights.subarray(0, weights.length - 4));
    await expect(tfl.loadLayersModel(fileSystemIO(dir))).rejects.toThrow(/weights\.bin: expected \d+ bytes, found \d+ \(truncated/);
    const flipped = Buffer.from(weights);
    flipped[5] = (flipped[5] as number) ^ 0x10;
    writeFileSync(join(dir, 'weights.bin'), flipped);
    await expect(tfl.loadLayersModel(fileSystemIO(dir))).rejects.toThrow(/weights\.bin: sha256 \w+ does not match/);
    writeFileSync(join(dir, 'model.json'), '{"modelTopology": ');
    await expect(tfl.loadLayersModel(fileSystemIO(dir))).rejects.toThrow(/model\.json: not valid JSON/);
    await expect(tfl.loadLayersModel(fileSystemIO(join(work, 'missing')))).rejects.toThrow(/model\.json: cannot read the model \(ENOENT\)/);
  });
});

describe('checkpoints', () => {
  it('saves parts with a manifest, replaces an old checkpoint whole, and checks the kind', async () => {
    const dir = join(work, 'ckpt');
    await saveCheckpoint(dir, { kind: 'toy', config: { units: 3 } }, { encoder: tinyModel(3), decoder: tinyModel(4) });
    const second = tinyModel(5);
    await saveCheckpoint(dir, { kind: 'toy', config: { units: 3 }, extra: { epoch: 2 } }, { encoder: second });
    const manifest = await readCheckpointManifest<{ units: number }>(dir, 'toy');
    expect(manifest).toMatchObject({ format: 'gm-checkpoint', version: 1, kind: 'toy', parts: ['encoder'], extra: { epoch: 2 } });
    expect(readdirSync(dir).sort()).toEqual(['encoder', 'gm-checkpoint.json']);
    expect(readdirSync(work).filter((f) => f.includes('.saving-') || f.includes('.old-'))).toEqual([]);
    const encoder = await loadCheckpointPart(dir, 'encoder');
    expect(Array.from((encoder.predict(x()) as tf.Tensor).dataSync())).toEqual(Array.from((second.predict(x()) as tf.Tensor).dataSync()));
    await expect(readCheckpointManifest(dir, 'vae')).rejects.toThrow(/holds a "toy", expected a "vae"/);
    await expect(readCheckpointManifest(join(work, 'nothing'))).rejects.toThrow(/is not a gm checkpoint folder/);
  });
});
