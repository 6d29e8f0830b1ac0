// Splits compression and decompression of a dataset across worker threads, chunk by chunk, and checks that the
// joined file is byte-identical to single-threaded `compress` and decodes exactly. Each worker builds its own
// model (here the synthetic one; a tfjs VAE would be loaded from its checkpoint the same way).
// Run after `npx tsup`:  node scripts/parallel-workers.mjs [--workers 2] [--count 2000] [--chunk 250]
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { compress, createGmzHeader, decodeChunk, encodeChunk, joinGmz, linearBernoulliModel, splitGmz } from '@gm/bitsback';

const makeModel = () => linearBernoulliModel({ latentDim: 16, pixelsPerImage: 784, seed: 1, weightScale: 1 });

if (!isMainThread) {
  const model = makeModel();
  parentPort.on('message', async ({ id, op, header, payload }) => {
    const result = op === 'encode' ? await encodeChunk(payload, model, header) : await decodeChunk(payload, model, header);
    parentPort.postMessage({ id, result });
  });
} else {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, count: { type: 'string' }, chunk: { type: 'string' } } });
  const nWorkers = Number(values.workers ?? 2);
  const count = Number(values.count ?? 2000);
  const chunkSize = Number(values.chunk ?? 250);
  const model = makeModel();
  const images = model.sample(count, 3);
  const options = { fingerprint: 'synthetic-linear-16', shape: [28, 28], pixels: 'binary', chunkSize, lanes: 32 };
  const workers = Array.from({ length: nWorkers }, () => new Worker(new URL(import.meta.url)));
  let next = 0;
  const pending = new Map();
  for (const w of workers) w.on('message', ({ id, result }) => { pending.get(id)(result); pending.delete(id); });
  const run = (k, op, header, payload) => new Promise((resolve) => { const id = next++; pending.set(id, resolve); workers[k % nWorkers].postMessage({ id, op, header, payload }); });

  const header = createGmzHeader(options, model.latentDim, count);
  let t0 = performance.now();
  const jobs = [];
  for (let k = 0, off = 0; off < count; k++, off += chunkSize) {
    jobs.push(run(k, 'encode', header, images.slice(off * 784, Math.min(count, off + chunkSize) * 784)));
  }
  const file = joinGmz(header, await Promise.all(jobs));
  const tEnc = performance.now() - t0;
  t0 = performance.now();
  const single = await compress(images, model, options);
  const tSingle = performance.now() - t0;
  const same = Buffer.compare(Buffer.from(file), Buffer.from(single)) === 0;
  t0 = performance.now();
  const g = splitGmz(file);
  const parts = await Promise.all(g.chunks.map((c, k) => run(k, 'decode', g.header, c)));
  const tDec = performance.now() - t0;
  const back = Buffer.concat(parts);
  const exact = Buffer.compare(back, Buffer.from(images)) === 0;
  console.log(`${count} images in ${g.chunks.length} chunks on ${nWorkers} workers: encode ${(count / tEnc * 1000).toFixed(0)} img/s ` +
    `(single thread ${(count / tSingle * 1000).toFixed(0)} img/s), decode ${(count / tDec * 1000).toFixed(0)} img/s; ` +
    `joined file identical to compress(): ${same}; decoded exactly: ${exact}`);
  for (const w of workers) await w.terminate();
  if (!same || !exact) process.exit(1);
}
