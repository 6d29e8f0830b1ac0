import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, writeCheckpoint } from './checkpoint';
import { fileStore } from './file-store';
import { fileSystemIO } from '../node';
import { memoryStore, zipCheckpoint, zipStore } from './stores';

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
const out = (m: tfl.LayersModel) => Array.from((m.predict(x()) as tf.Tensor).dataSync());

describe('fileSystemIO (a plain tfjs model to a folder, any backend)', () => {
  it('round-trips a model with identical outputs', async () => {
    const model = tinyModel(1);
    const dir = join(work, 'plain');
    await model.save(fileSystemIO(dir));
    expect(readdirSync(dir).sort()).toEqual(['model.json', 'weights.bin']);
    const loaded = await tfl.loadLayersModel(fileSystemIO(dir));
    expect(out(loaded)).toEqual(out(model));
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
    await expect(tfl.loadLayersModel(fileSystemIO(join(work, 'missing')))).rejects.toThrow(/missing\/model\.json: no such file/);
  });
});

describe('checkpoints over stores', () => {
  it('a folder: parts, a manifest that lists every file, extra files in the same write, whole replacement, kind checks', async () => {
    const dir = join(work, 'ckpt');
    const store = fileStore(dir);
    await writeCheckpoint(store, { kind: 'toy', config: { units: 3 } }, { encoder: tinyModel(3), decoder: tinyModel(4) });
    const second = tinyModel(5);
    await writeCheckpoint(store, { kind: 'toy', config: { units: 3 }, extra: { epoch: 2 } }, { encoder: second }, new Map([['notes.txt', new TextEncoder().encode('hi')]]));
    const reader = await readCheckpoint<{ units: number }>(store, 'toy');
    expect(reader.manifest).toMatchObject({ format: 'gm-checkpoint', version: 2, kind: 'toy', parts: ['encoder'], extra: { epoch: 2 } });
    expect(Object.keys(reader.manifest.files ?? {}).sort()).toEqual(['encoder/model.json', 'encoder/weights.bin', 'notes.txt']);
    expect(reader.manifest.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(dir).sort()).toEqual(['encoder', 'gm-checkpoint.json', 'notes.txt']);
    expect(readdirSync(work).filter((f) => f.includes('.saving-') || f.includes('.old-'))).toEqual([]);
    expect(new TextDecoder().decode(await reader.file('notes.txt'))).toBe('hi');
    expect(await reader.file('absent.bin')).toBeUndefined();
    expect(out(await reader.part('encoder'))).toEqual(out(second));
    await expect(reader.part('decoder')).rejects.toThrow(/has no "decoder" part \(parts: encoder\)/);
    await expect(readCheckpoint(store, 'vae')).rejects.toThrow(/holds a "toy", expected a "vae"/);
    await expect(readCheckpoint(fileStore(join(work, 'nothing')))).rejects.toThrow(/nothing\/gm-checkpoint\.json: not found — .*is not a gm checkpoint/);
    writeFileSync(join(dir, 'gm-checkpoint.json'), '{"format": "gm-checkpoint", "version": 9}');
    await expect(readCheckpoint(store)).rejects.toThrow(/version 9 is not supported \(this @gm\/models reads versions 1 and 2\)/);
  });

  it('a folder: a write killed between its two renames is recovered on the next read, and dead writers’ folders are removed', async () => {
    const dir = join(work, 'swap');
    const store = fileStore(dir);
    await writeCheckpoint(store, { kind: 'toy', config: {} }, { encoder: tinyModel(6) });
    // What a writer killed after `rename(target → .old-…)` leaves: no target, the old checkpoint aside, its staging.
    renameSync(dir, `${dir}.old-999999-abc`);
    mkdirSync(`${dir}.saving-999999-abc`);
    const reader = await readCheckpoint(store, 'toy');
    expect(reader.manifest.kind).toBe('toy');
    expect(readdirSync(work).filter((f) => f.startsWith('swap.'))).toEqual([]);
  });

  it('memory and zip stores carry a checkpoint whole; read-only stores refuse writes clearly', async () => {
    const mem = memoryStore();
    await writeCheckpoint(mem, { kind: 'toy', config: {} }, { net: tinyModel(7) });
    const zipped = zipStore(zipCheckpoint(mem.files));
    expect(out(await (await readCheckpoint(zipped, 'toy')).part('net'))).toEqual(out(await (await readCheckpoint(mem)).part('net')));
    await expect(writeCheckpoint({ label: 'https://example.test/model', read: mem.read }, { kind: 'toy', config: {} }, {})).rejects.toThrow(/example\.test\/model: this store is read-only/);
    expect(() => zipStore(Uint8Array.of(1, 2, 3), 'x.zip')).toThrow(/x\.zip: not a zip file/);
  });
});
