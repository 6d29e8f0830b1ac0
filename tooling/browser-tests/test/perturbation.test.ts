/**
 * The coded bits depend on the model's weights and the images, nothing else: a property run perturbs everything
 * around the coding path — the tfjs backend the model runs on (and the one it was loaded under), whether its
 * weights come from memory after training or from a checkpoint, unrelated tfjs work in the same process, the dense
 * engine, and how the images are streamed in — and the file never changes by a bit.
 */
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '@gm/backend';
import { compress, compressStream, decompress } from '@gm/bitsback';
import { concatBytes, type CodingModel } from '@gm/core';
import { binarizeStatic } from '@gm/data';
import { loadBundledMnist } from '@gm/data/node';
import { VAE } from '@gm/models';
import { fileStore } from '@gm/models/node';

describe('coded bits are unchanged by anything but the weights and the images (property)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gm-perturb-'));
  const images = binarizeStatic(loadBundledMnist().test.images.subarray(0, 120 * 784));
  let trained: VAE;
  let reference: Uint8Array;

  beforeAll(async () => {
    await initBackend({ backend: 'wasm' });
    const { train } = loadBundledMnist();
    const x = tf.tensor(binarizeStatic(train.images.subarray(0, 1000 * 784)), [1000, 784]);
    trained = new VAE({ inputShape: [784], hidden: [48], latentDim: 6, likelihood: 'bernoulli', seed: 5 });
    await trained.fit(x, { epochs: 2, batchSize: 100 });
    x.dispose();
    await trained.save(fileStore(join(dir, 'vae')));
    reference = await compress(images, trained.codingModel(), { shape: [28, 28], chunkSize: 40, fallback: false });
  });

  afterAll(() => {
    trained.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the file byte for byte under perturbed backends, weight sources, tfjs work, engines and streaming', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          backend: fc.constantFrom('cpu', 'wasm'),
          fromCheckpoint: fc.boolean(),
          noise: fc.integer({ min: 0, max: 3 }),
          engine: fc.constantFrom('js', 'wasm-simd128'),
          pieces: fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 6 }),
        }),
        async ({ backend, fromCheckpoint, noise, engine, pieces }) => {
          await tf.setBackend(backend);
          const model = fromCheckpoint ? await VAE.load(fileStore(join(dir, 'vae'))) : trained;
          // Unrelated tfjs work on the same backend first: the coder must not see any of it.
          for (let i = 0; i < noise; i++) tf.tidy(() => model.reconstruct(tf.randomUniform([7 + i, 784], 0, 1, 'float32', i)).dataSync());
          const coding: CodingModel = model.codingModel();
          // Stream the images in pieces of random sizes (whole images each).
          const parts: Uint8Array[] = [];
          let at = 0;
          for (let k = 0; at < 120; k++) {
            const take = Math.min(pieces[k % pieces.length]!, 120 - at);
            parts.push(images.subarray(at * 784, (at + take) * 784));
            at += take;
          }
          const out: Uint8Array[] = [];
          for await (const p of compressStream(parts, coding, { shape: [28, 28], chunkSize: 40, fallback: false, engine }, 120)) out.push(p);
          const bytes = concatBytes(out);
          expect(Buffer.from(bytes).equals(Buffer.from(reference))).toBe(true);
          expect((await decompress(reference, coding, { engine })).images).toEqual(images);
          if (fromCheckpoint) model.dispose();
        },
      ),
      { numRuns: 12, seed: 14 },
    );
  });
});
