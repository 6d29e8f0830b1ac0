// Splits compression and decompression of a dataset across worker threads, chunk by chunk, and checks that the
// joined file is byte-identical to single-threaded `compress` and decodes exactly. Each worker gets the coding
// model once, as plain data (typed arrays are structured-cloneable; a trained VAE's `vae.codingModel()` travels
// the same way), plus the compress options, and builds its own writer (gmzWriter) and, from the file's header,
// its own reader (gmzReader: it refuses a model whose fingerprint is not the file's).
// Run after `npx tsup`:  node scripts/parallel-workers.mjs [--workers 2] [--count 2000] [--chunk 250] [--engine wasm-simd128|js]
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { chunkSummary, codingModelFingerprint, compress, decodeChunk, encodeChunk, gmzReader, gmzWriter, joinGmz, splitGmz } from '@gm/bitsback';
import { linearBernoulliModel } from '@gm/bitsback/testing';

if (!isMainThread) {
  let writer = null;
  let reader = null;
  let coding = null;
  parentPort.on('message', (msg) => {
    try {
      if (msg.op === 'init') {
        // One coder per worker, for the whole run.
        coding = msg.coding;
        writer = gmzWriter(coding, msg.options, msg.count);
        reader = null;
        parentPort.postMessage({ id: msg.id, result: codingModelFingerprint(coding) });
      } else if (msg.op === 'encode') {
        parentPort.postMessage({ id: msg.id, result: encodeChunk(writer, msg.images, msg.firstImage) });
      } else {
        reader ??= gmzReader(msg.header, coding, msg.engine === undefined ? {} : { engine: msg.engine });
        parentPort.postMessage({ id: msg.id, result: decodeChunk(msg.chunk, reader, msg.header) });
      }
    } catch (e) {
      parentPort.postMessage({ id: msg.id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  });
} else {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, count: { type: 'string' }, chunk: { type: 'string' }, engine: { type: 'string' } } });
  const nWorkers = Number(values.workers ?? 2);
  const count = Number(values.count ?? 2000);
  const chunkSize = Number(values.chunk ?? 250);
  const engine = values.engine; // a backend name is plain data too; undefined: wasm SIMD128 where it runs
  if (engine !== undefined && engine !== 'wasm-simd128' && engine !== 'js') throw new Error(`--engine must be wasm-simd128 or js, got ${engine}`);
  const model = linearBernoulliModel({ latentDim: 16, pixelsPerImage: 784, seed: 1, weightScale: 1 });
  const coding = model.coding;
  const images = model.sample(count, 3);
  const D = 784;
  const options = { shape: [28, 28], chunkSize, lanes: 32, ...(engine === undefined ? {} : { engine }) };
  const workers = Array.from({ length: nWorkers }, () => new Worker(new URL(import.meta.url)));
  let next = 0;
  const pending = new Map();
  for (const w of workers) {
    w.on('message', ({ id, result, error }) => {
      const p = pending.get(id);
      pending.delete(id);
      if (error !== undefined) p.reject(new Error(`worker: ${error}`));
      else p.resolve(result);
    });
  }
  const run = (k, msg) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    workers[k % nWorkers].postMessage({ ...msg, id });
  });

  const writer = gmzWriter(coding, options, count);
  const header = writer.header;
  const fingerprint = codingModelFingerprint(coding);
  let t0 = performance.now();
  const fingerprints = await Promise.all(workers.map((_, k) => run(k, { op: 'init', coding, options, count })));
  const tInit = performance.now() - t0;
  if (fingerprints.some((f) => f !== fingerprint)) throw new Error(`a worker received another model: ${fingerprints.join(', ')} vs ${fingerprint}`);
  t0 = performance.now();
  const jobs = [];
  for (let k = 0, off = 0; off < count; k++, off += chunkSize) {
    jobs.push(run(k, { op: 'encode', images: images.slice(off * D, Math.min(count, off + chunkSize) * D), firstImage: off }));
  }
  const file = joinGmz(header, await Promise.all(jobs));
  const tEnc = performance.now() - t0;
  t0 = performance.now();
  const single = await compress(images, coding, options);
  const tSingle = performance.now() - t0;
  const same = Buffer.compare(Buffer.from(file), Buffer.from(single)) === 0;
  t0 = performance.now();
  const g = splitGmz(file);
  // A chunk's payload is a view into the whole file: send a copy of its bytes, not the file's buffer.
  const parts = await Promise.all(g.chunks.map((c, k) => run(k, { op: 'decode', header: g.header, chunk: { ...c, payload: c.payload.slice() }, engine })));
  const tDec = performance.now() - t0;
  const back = Buffer.concat(parts);
  const exact = Buffer.compare(back, Buffer.from(images)) === 0;
  const stored = chunkSummary(g);
  const deflated = stored.filter((c) => c.method === 'deflate').length;
  console.log(`${count} images in ${g.chunks.length} chunks (${deflated} deflated) on ${nWorkers} workers (init, model sent as plain data: ${tInit.toFixed(0)} ms): ` +
    `encode ${(count / tEnc * 1000).toFixed(0)} img/s (single thread ${(count / tSingle * 1000).toFixed(0)} img/s), decode ${(count / tDec * 1000).toFixed(0)} img/s; ` +
    `joined file identical to compress(): ${same}; decoded exactly: ${exact}`);
  for (const w of workers) await w.terminate();
  if (!same || !exact) process.exit(1);
}
