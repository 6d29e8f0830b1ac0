/**
 * A seeded fuzzer of .gmz decoding. It writes small files with three coding models — a Gaussian-latent model of
 * binary pixels, one of 8-bit pixels and an autoregressive (MADE) one — then, case by case, damages one and decodes
 * it by one of three paths (`decompress`, `decompressStream` in pieces of random size, `splitGmz` + `decodeChunk`
 * per chunk in random order, as parallel workers would): truncations at every byte, random bit flips, and — written
 * back re-sealed by the independent layout writer of ./gmz-craft, every checksum recomputed so only the structural
 * checks can catch them — extreme header fields, extreme chunk fields, damaged payloads, chunks reordered, dropped,
 * duplicated or renumbered, and chunks spliced in from another file.
 *
 * Every case must end in a refusal (a GmzError) or in the original images. It counts the cases that end otherwise:
 * raw errors (anything thrown that is not a GmzError), silent wrong decodes (images returned, or yielded by the
 * stream, that differ from the original) and hangs (a case over its time limit). Case k depends only on the seed and
 * k, so a run can resume after any case (scripts/fuzz-gmz.mjs runs it under a watchdog that survives a real hang).
 */
import { concatBytes, mulberry32, type CodingModel, type Rng } from '@gm/core';
import { compress, compressStream, decodeChunk, decompress, decompressStream, GmzError, gmzReader, splitGmz, type CompressOptions } from '../gmz';
import { chunkBody, cloneGmzLayout, headerFieldBytes, leb128, readGmzLayout, writeGmzLayout, type GmzLayout, type GmzLayoutChunk } from './gmz-craft';
import { linearBernoulliModel, linearLogisticModel, randomMadeModel } from './synthetic';

/** The models a fuzz run codes with. */
export type GmzFuzzFamily = 'latent-binary' | 'latent-u8' | 'latent-binary-cis' | 'latent-u8-cis' | 'autoregressive';
/** What a case does to a file. */
export type GmzFuzzMutation = 'truncate' | 'flip' | 'flip-resealed' | 'header-field' | 'chunk-field' | 'payload' | 'sequence' | 'foreign-chunk';
/** How a case decodes. */
export type GmzFuzzPath = 'decompress' | 'stream' | 'split';
/**
 * How a case ended: refused (a GmzError), decoded (the original images), raw (another error), silent (other images),
 * killed (never ended: stopped by a watchdog, see scripts/fuzz-gmz.mjs).
 */
export type GmzFuzzOutcome = 'refused' | 'decoded' | 'raw' | 'silent' | 'killed';

/** One written file of the corpus and the images it holds. */
export interface GmzFuzzFile {
  family: GmzFuzzFamily;
  name: string;
  model: CodingModel;
  images: Uint8Array;
  bytes: Uint8Array;
  layout: GmzLayout;
}

/** The files a run damages; built once per run (per worker) from the seed. */
export interface GmzFuzzCorpus {
  files: GmzFuzzFile[];
  /** The files cut at every byte, and how many cuts that is. */
  truncationFiles: GmzFuzzFile[];
  truncationCuts: number;
}

/** One case, ready to decode. */
export interface GmzFuzzCase {
  index: number;
  family: GmzFuzzFamily;
  mutation: GmzFuzzMutation;
  path: GmzFuzzPath;
  /** What exactly was done, e.g. `chunkSize = 1048577` or `order [1, 0, 2]`. */
  detail: string;
  bytes: Uint8Array;
  file: GmzFuzzFile;
  /** Piece size for the stream path (0: the whole file at once). */
  pieceSize: number;
  /** Seed of the order the split path decodes chunks in. */
  orderSeed: number;
}

/** How one case ended. */
export interface GmzFuzzResult {
  index: number;
  family: GmzFuzzFamily;
  mutation: GmzFuzzMutation;
  path: GmzFuzzPath;
  detail: string;
  outcome: GmzFuzzOutcome;
  /** Over the time limit. */
  hang: boolean;
  ms: number;
  /** The error (name and message) or what differed. */
  message: string;
}

/** A run's figures. */
export interface GmzFuzzReport {
  seed: number;
  cases: number;
  refused: number;
  decoded: number;
  hangs: number;
  raw: number;
  silent: number;
  ms: number;
  slowest: { ms: number; index: number; what: string };
  /** Per mutation: cases, how they ended, and the GmzError codes of the refusals (how deep the damage got). */
  byMutation: Record<string, { cases: number; refused: number; decoded: number; failed: number; codes: Record<string, number> }>;
  byPath: Record<string, number>;
  /** Distinct truncation cuts run, of all cuts of the truncation files. */
  truncations: { covered: number; of: number };
  /** The first 50 cases that hung, threw raw or decoded wrongly. */
  failures: GmzFuzzResult[];
}

const PIXELS = 36;

function settingsFor(family: GmzFuzzFamily, rng: Rng): Partial<CompressOptions> {
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const bucketBits = int(6, 14);
  const cis = family.endsWith('-cis');
  return {
    lanes: int(1, 6),
    bucketBits,
    posteriorPrecision: int(bucketBits + 2, cis ? 30 : 32),
    likelihoodPrecision: family.startsWith('latent-u8') ? int(14, 28) : int(12, 28),
    ...(cis ? { particles: int(2, 8) } : {}),
    growth: int(1000, 3000) / 1000,
    seed: Math.floor(rng() * 2 ** 32),
  };
}

async function writeFile(family: GmzFuzzFamily, name: string, model: CodingModel, images: Uint8Array, options: CompressOptions, count: number | null): Promise<GmzFuzzFile> {
  const parts: Uint8Array[] = [];
  for await (const p of compressStream([images], model, options, count)) parts.push(p);
  const bytes = concatBytes(parts);
  if (count !== null && bytes.length !== (await compress(images, model, options)).length) throw new Error('fuzz corpus: compressStream and compress disagree');
  return { family, name, model, images, bytes, layout: readGmzLayout(bytes) };
}

/**
 * The corpus of a seed: per model, a small file and a streamed one (count unknown) of model-coded chunks, and one with
 * a chunk of noise, deflated.
 */
export async function gmzFuzzCorpus(seed: number): Promise<GmzFuzzCorpus> {
  const rng = mulberry32(seed ^ 0x5eed);
  const families: Array<{ family: GmzFuzzFamily; model: CodingModel; sample: (n: number, s: number) => Uint8Array; noise: (n: number) => Uint8Array }> = [];
  const bits = (n: number): Uint8Array => Uint8Array.from({ length: n * PIXELS }, () => (rng() < 0.5 ? 1 : 0));
  const bin = linearBernoulliModel({ latentDim: 3, pixelsPerImage: PIXELS, seed: 21 });
  families.push({ family: 'latent-binary', model: bin.coding, sample: (n, s) => bin.sample(n, s), noise: bits });
  const u8 = linearLogisticModel({ latentDim: 3, pixelsPerImage: PIXELS, seed: 2 });
  families.push({ family: 'latent-u8', model: u8.coding, sample: (n, s) => u8.sample(n, s), noise: (n) => Uint8Array.from({ length: n * PIXELS }, () => Math.floor(rng() * 256)) });
  // The same models coded with importance-sampling particles (BB-CIS, version-4 files).
  families.push({ family: 'latent-binary-cis', model: bin.coding, sample: (n, s) => bin.sample(n, s), noise: bits });
  families.push({ family: 'latent-u8-cis', model: u8.coding, sample: (n, s) => u8.sample(n, s), noise: (n) => Uint8Array.from({ length: n * PIXELS }, () => Math.floor(rng() * 256)) });
  const made = randomMadeModel({ pixelsPerImage: PIXELS, hidden: [32], seed: 3, scale: 2 });
  families.push({ family: 'autoregressive', model: made.coding, sample: (n, s) => made.sample(n, s), noise: bits });
  const files: GmzFuzzFile[] = [];
  const truncationFiles: GmzFuzzFile[] = [];
  for (const f of families) {
    const shape = [6, 6];
    const small = await writeFile(f.family, 'small', f.model, f.sample(16, seed + 1), { shape, chunkSize: 6, fallback: false, ...settingsFor(f.family, rng) }, 16);
    const streamed = await writeFile(f.family, 'streamed', f.model, f.sample(20, seed + 2), { shape: [PIXELS], chunkSize: 8, fallback: false, ...settingsFor(f.family, rng) }, null);
    const mixedImages = concatBytes([f.sample(8, seed + 3), f.noise(8), f.sample(7, seed + 4)]);
    const mixed = await writeFile(f.family, 'mixed', f.model, mixedImages, { shape, chunkSize: 8, ...settingsFor(f.family, rng) }, 23);
    if (!mixed.layout.chunks.some((c) => (c as GmzLayoutChunk).method === 1)) throw new Error(`fuzz corpus: the ${f.family} noise chunk was not deflated`);
    files.push(small, streamed, mixed);
    truncationFiles.push(small, streamed);
  }
  return { files, truncationFiles, truncationCuts: truncationFiles.reduce((a, f) => a + f.bytes.length, 0) };
}

/** Mutations by case number: a cycle of 8 (truncations twice), so any stretch of cases mixes them all. */
const CYCLE: readonly GmzFuzzMutation[] = ['truncate', 'flip', 'header-field', 'chunk-field', 'truncate', 'sequence', 'payload', 'flip-resealed'];
const PATHS: readonly GmzFuzzPath[] = ['decompress', 'stream', 'split'];

function caseRng(seed: number, index: number): Rng {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** The cut of truncation case j: a stride permutation of all cuts, so every run covers them evenly. */
function truncation(corpus: GmzFuzzCorpus, j: number): { file: GmzFuzzFile; cut: number } {
  const total = corpus.truncationCuts;
  let stride = 7919;
  while (gcd(stride, total) !== 1) stride += 2;
  let p = (j % total) * stride % total;
  for (const file of corpus.truncationFiles) {
    if (p < file.bytes.length) return { file, cut: p };
    p -= file.bytes.length;
  }
  throw new Error('unreachable');
}

/** Truncation cases among cases 0..k−1. */
function truncationNumber(k: number): number {
  const per = CYCLE.filter((m) => m === 'truncate').length;
  return per * Math.floor(k / CYCLE.length) + CYCLE.slice(0, k % CYCLE.length).filter((m) => m === 'truncate').length;
}

const HUGE = [2 ** 20, 2 ** 20 + 1, 2 ** 24, 2 ** 24 + 1, 2 ** 32, 2 ** 48, 2 ** 49 - 1, 2 ** 53 - 1];
/** A value a varint field can hold: a field edited twice in one case can start from 2^53 − 1, and orig + 1 is not. */
const storable = (v: number): boolean => Number.isSafeInteger(v) && v >= 0;

/** Builds case `index` of a run with `seed`. */
export function gmzFuzzCase(corpus: GmzFuzzCorpus, seed: number, index: number): GmzFuzzCase {
  const rng = caseRng(seed, index);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const int = (lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));
  const mutation = CYCLE[index % CYCLE.length]!;
  const path = pick(PATHS);
  const pieceSize = pick([0, 1, 7, 64, 1000]);
  const orderSeed = int(0, 2 ** 31);
  const done = (file: GmzFuzzFile, bytes: Uint8Array, detail: string, m: GmzFuzzMutation = mutation): GmzFuzzCase => ({
    index,
    family: file.family,
    mutation: m,
    path,
    detail: `${file.family}/${file.name}: ${detail}`,
    bytes,
    file,
    pieceSize,
    orderSeed,
  });

  if (mutation === 'truncate') {
    const j = truncationNumber(index);
    const { file, cut } = truncation(corpus, j);
    return done(file, file.bytes.subarray(0, cut), `cut at ${cut} of ${file.bytes.length}`);
  }
  const file = pick(corpus.files);
  const layout = cloneGmzLayout(file.layout);
  const chunks = layout.chunks as GmzLayoutChunk[];
  const h = layout.header;
  const sealed = (detail: string, m: GmzFuzzMutation = mutation): GmzFuzzCase => done(file, writeGmzLayout(layout), detail, m);

  if (mutation === 'flip') {
    const bytes = file.bytes.slice();
    const n = int(1, 4);
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      const bit = int(0, bytes.length * 8 - 1);
      bytes[bit >>> 3]! ^= 1 << (bit & 7);
      at.push(bit);
    }
    return done(file, bytes, `bits ${at.join(', ')} flipped`);
  }

  if (mutation === 'flip-resealed') {
    const flip = (b: Uint8Array, from = 0): string => {
      const n = int(1, 3);
      const at: number[] = [];
      for (let i = 0; i < n; i++) {
        const bit = int(from * 8, b.length * 8 - 1);
        b[bit >>> 3]! ^= 1 << (bit & 7);
        at.push(bit);
      }
      return at.join(', ');
    };
    if (rng() < 0.35) {
      // The header fields after the fingerprint (a flipped fingerprint is only another model).
      const raw = headerFieldBytes(h);
      layout.rawHeader = raw;
      return sealed(`header bits ${flip(raw, rng() < 0.8 ? 32 : 0)} flipped, re-sealed`);
    }
    const k = int(0, chunks.length - 1);
    const body = chunkBody(chunks[k]!);
    // Mostly the body's fields (the first 13 bytes), else anywhere in the payload.
    const fieldsOnly = rng() < 0.6;
    const what = fieldsOnly ? flip(body.subarray(0, Math.min(13, body.length))) : flip(body);
    layout.chunks[k] = { body };
    return sealed(`chunk ${k} body bits ${what} flipped, re-sealed`);
  }

  if (mutation === 'header-field') {
    const edits: string[] = [];
    const fieldCount = rng() < 0.8 ? 1 : 2;
    for (let e = 0; e < fieldCount; e++) {
      const field = pick([
        'version',
        'codingPath',
        'fingerprint',
        'modelKind',
        'pixels',
        'shape',
        'shape',
        'countPlusOne',
        'countPlusOne',
        'chunkSize',
        'chunkSize',
        'latentDim',
        'bucketBits',
        'posteriorPrecision',
        'likelihoodPrecision',
        'lanes',
        'lanes',
        'growth',
        'seed',
      ] as const);
      if (field === 'fingerprint') {
        h.fingerprint[int(0, 31)]! ^= 1 << int(0, 7);
        edits.push('fingerprint byte flipped');
        continue;
      }
      if (field === 'shape') {
        h.shape = pick<number[]>([
          [],
          [PIXELS],
          [6, 6],
          [2, 18],
          [1, 1, 6, 6],
          [1, 1, 1, 6, 6],
          [0],
          [6, 7],
          [4096, 4096],
          [4096, 4097],
          [2 ** 24],
          [2 ** 24 + 1],
          [2 ** 48],
          [2 ** 53 - 1, 2],
          Array.from({ length: int(1, 4) }, () => int(1, 100)),
        ]);
        edits.push(`shape [${h.shape.join(', ')}]`);
        continue;
      }
      const orig = h[field];
      const value =
        field === 'version' || field === 'codingPath'
          ? pick([0, 1, 2, 3, 255])
          : field === 'modelKind' || field === 'pixels'
            ? pick([0, 1, 2, 255])
            : field === 'bucketBits' || field === 'posteriorPrecision' || field === 'likelihoodPrecision'
              ? pick([0, 1, orig - 1, orig + 1, 9, 10, 12, 20, 21, 24, 31, 32, 33, 255].filter((v) => v >= 0 && v <= 255))
              : field === 'seed'
                ? pick([0, 1, (orig ^ 1) >>> 0, 2 ** 31, 2 ** 32 - 1, int(0, 2 ** 31) * 2])
                : field === 'growth'
                  ? pick([0, 1, 999, 1000, 1001, 2000, 1024000, 1024001, ...HUGE])
                  : field === 'countPlusOne'
                    ? pick([0, 1, 2, orig - 1, orig + 1, orig + 8, 1_000_001, ...HUGE].filter(storable))
                    : pick([0, 1, 2, orig - 1, orig + 1, 2 * orig, 65536, 65537, ...HUGE].filter(storable));
      h[field] = value;
      edits.push(`${field} = ${value}`);
    }
    return sealed(`${edits.join(', ')}, re-sealed`);
  }

  if (mutation === 'chunk-field') {
    const k = int(0, chunks.length - 1);
    const c = chunks[k]!;
    const field = pick(['method', 'index', 'index', 'firstImage', 'count', 'count', 'imageCrc', 'length', 'length', 'trailerCount', 'crc', 'huge'] as const);
    if (field === 'huge') {
      // One chunk claiming the most images the limits allow (2^24 pixels), with a real payload: the work and memory
      // of decoding one chunk must stay bounded until the payload runs out.
      const most = pick([65536, Math.floor(2 ** 24 / PIXELS), 2 ** 20]);
      h.chunkSize = most;
      h.countPlusOne = pick([0, most + 1]);
      layout.chunks = [{ ...c, index: 0, firstImage: 0, count: most }];
      layout.trailerCount = most;
      return sealed(`one chunk (chunk ${k}'s payload) claiming ${most} images, chunk size ${most}, count ${h.countPlusOne === 0 ? 'unknown' : most}, re-sealed`);
    }
    if (field === 'trailerCount') {
      layout.trailerCount = pick([0, layout.trailerCount - 1, layout.trailerCount + 1, 2 ** 20, ...HUGE].filter(storable));
      return sealed(`trailer count = ${layout.trailerCount}, re-sealed`);
    }
    if (field === 'crc' || field === 'imageCrc') {
      c[field] = (int(0, 2 ** 31) * 2 + int(0, 1)) >>> 0;
      return sealed(`chunk ${k} ${field} = ${c[field]}${field === 'crc' ? '' : ', re-sealed'}`);
    }
    if (field === 'length') {
      const len = chunkBody(c).length;
      c.length = pick([0, 1, 8, 9, len - 1, len + 1, len + 4, 2 * len, ...HUGE].filter(storable));
      return sealed(`chunk ${k} length = ${c.length} (is ${len}), re-sealed`);
    }
    const S = h.chunkSize;
    const value =
      field === 'method'
        ? pick([0, 1, 2, 255])
        : field === 'index'
          ? pick([0, k - 1, k + 1, chunks.length, 2 ** 20, ...HUGE].filter(storable))
          : field === 'firstImage'
            ? pick([0, c.firstImage - 1, c.firstImage + 1, c.firstImage - S, c.firstImage + S, ...HUGE].filter(storable))
            : pick([0, 1, c.count - 1, c.count + 1, S, S + 1, 2 ** 20, ...HUGE].filter(storable));
    c[field] = value;
    return sealed(`chunk ${k} ${field} = ${value}, re-sealed`);
  }

  if (mutation === 'payload') {
    const k = int(0, chunks.length - 1);
    const c = chunks[k]!;
    const p = c.payload;
    const kind = pick(['cut', 'cut', 'extend', 'overwrite', 'varints', 'varints', 'other-chunk', 'zeros', 'ones', 'empty'] as const);
    if (kind === 'cut') c.payload = p.slice(0, int(0, p.length - 1));
    else if (kind === 'extend') c.payload = concatBytes([p, Uint8Array.from({ length: int(1, 40) }, () => int(0, 255))]);
    else if (kind === 'overwrite') {
      c.payload = p.slice();
      for (let i = int(1, 4); i > 0; i--) c.payload[int(0, p.length - 1)] = int(0, 255);
    } else if (kind === 'varints') {
      // The payload's leading varints: clean units, warm-up length (latent) or lanes, stack size (autoregressive).
      const at = int(0, 2);
      const v = pick([0, 1, 2, 255, 65536, ...HUGE]);
      const head: number[] = [];
      let pos = 0;
      for (let i = 0; i <= at && pos < p.length; i++) {
        let end = pos;
        while (end < p.length - 1 && (p[end]! & 0x80) !== 0) end++;
        if (i < at) head.push(...p.subarray(pos, end + 1));
        pos = end + 1;
      }
      c.payload = concatBytes([Uint8Array.from([...head, ...leb128(v)]), p.subarray(pos)]);
      return sealed(`chunk ${k} payload varint ${at} = ${v}, re-sealed`);
    } else if (kind === 'other-chunk') c.payload = chunks[(k + 1) % chunks.length]!.payload;
    else if (kind === 'zeros') c.payload = new Uint8Array(p.length);
    else if (kind === 'ones') c.payload = new Uint8Array(p.length).fill(255);
    else c.payload = new Uint8Array(0);
    return sealed(`chunk ${k} payload ${kind} (${p.length} → ${c.payload.length} bytes), re-sealed`);
  }

  // 'sequence' (and, one case in four, a chunk spliced in from another file of the same model).
  if (rng() < 0.25) {
    const others = corpus.files.filter((f) => f.family === file.family && f !== file);
    const other = pick(others);
    const theirs = other.layout.chunks as GmzLayoutChunk[];
    const from = int(0, theirs.length - 1);
    const to = int(0, chunks.length - 1);
    // Kept with the checksum it has in its own file (its header's): a chunk from another file is not re-sealed.
    const split = splitGmz(other.bytes);
    chunks[to] = { ...theirs[from]!, crc: split.chunks[from]!.crc };
    if (rng() < 0.5) Object.assign(chunks[to], { index: to, firstImage: to * h.chunkSize });
    return sealed(`chunk ${from} of ${other.name} spliced in at ${to} with its own checksum`, 'foreign-chunk');
  }
  const n = chunks.length;
  const order = pick([
    'swap',
    'drop',
    'drop-last',
    'drop-first',
    'duplicate',
    'duplicate-last',
    'reverse',
    'rotate',
    'renumbered-swap',
    'renumbered-drop',
  ] as const);
  let idx = Array.from({ length: n }, (_, i) => i);
  const a = int(0, n - 1);
  const b = (a + int(1, n - 1)) % n;
  if (order === 'swap' || order === 'renumbered-swap') [idx[a], idx[b]] = [idx[b]!, idx[a]!];
  else if (order === 'drop' || order === 'renumbered-drop') idx.splice(a, 1);
  else if (order === 'drop-last') idx.pop();
  else if (order === 'drop-first') idx.shift();
  else if (order === 'duplicate') idx.splice(a, 0, a);
  else if (order === 'duplicate-last') idx.push(n - 1);
  else if (order === 'reverse') idx = idx.reverse();
  else idx = [...idx.slice(1), idx[0]!];
  layout.chunks = idx.map((k, i) => ({ ...chunks[k]!, ...(order.startsWith('renumbered') ? { index: i, firstImage: i * h.chunkSize } : {}) }));
  return sealed(`${order}: order [${idx.join(', ')}], re-sealed`);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Runs one case: decodes its bytes by its path and says how that ended. */
export async function runGmzFuzzCase(c: GmzFuzzCase, timeLimitMs: number): Promise<GmzFuzzResult> {
  const expected = c.file.images;
  const model = c.file.model;
  const yielded: Uint8Array[] = [];
  const t0 = performance.now();
  let outcome: GmzFuzzOutcome;
  let message = '';
  try {
    let images: Uint8Array;
    if (c.path === 'decompress') images = (await decompress(c.bytes, model)).images;
    else if (c.path === 'stream') {
      const size = c.pieceSize === 0 ? Math.max(1, c.bytes.length) : c.pieceSize;
      const pieces = Array.from({ length: Math.ceil(c.bytes.length / size) }, (_, i) => c.bytes.subarray(i * size, (i + 1) * size));
      for await (const imgs of decompressStream(pieces, model)) yielded.push(imgs);
      images = concatBytes(yielded);
    } else {
      const file = splitGmz(c.bytes);
      const reader = gmzReader(file.header, model);
      const rng = mulberry32(c.orderSeed);
      const order = file.chunks.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(rng() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      const parts = order.map((i) => ({ first: file.chunks[i]!.firstImage, images: decodeChunk(structuredClone(file.chunks[i]!), reader, structuredClone(file.header)) }));
      images = concatBytes(parts.sort((x, y) => x.first - y.first).map((p) => p.images));
    }
    outcome = sameBytes(images, expected) ? 'decoded' : 'silent';
    if (outcome === 'silent') message = `decoded ${images.length} bytes of images that differ from the original ${expected.length}`;
  } catch (e) {
    if (e instanceof GmzError) {
      outcome = 'refused';
      message = `${e.code}: ${e.message}`;
    } else {
      outcome = 'raw';
      message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    }
    // The stream yields verified chunks before it fails: they must be the original images, in place.
    if (outcome === 'refused' && yielded.length > 0) {
      const got = concatBytes(yielded);
      if (!sameBytes(got, expected.subarray(0, got.length))) {
        outcome = 'silent';
        message = `the stream yielded ${got.length} bytes of images that differ from the original before failing (${message})`;
      }
    }
  }
  const ms = performance.now() - t0;
  return { index: c.index, family: c.family, mutation: c.mutation, path: c.path, detail: c.detail, outcome, hang: ms > timeLimitMs, ms, message };
}

/** Adds results up into a report. */
export function gmzFuzzTally(seed: number, truncationCuts: number): { add(r: GmzFuzzResult): void; report(ms: number): GmzFuzzReport } {
  const r: GmzFuzzReport = {
    seed,
    cases: 0,
    refused: 0,
    decoded: 0,
    hangs: 0,
    raw: 0,
    silent: 0,
    ms: 0,
    slowest: { ms: 0, index: -1, what: '' },
    byMutation: {},
    byPath: {},
    truncations: { covered: 0, of: truncationCuts },
    failures: [],
  };
  const cuts = new Set<string>();
  return {
    add(x) {
      r.cases++;
      if (x.outcome === 'refused') r.refused++;
      else if (x.outcome === 'decoded') r.decoded++;
      else if (x.outcome === 'raw') r.raw++;
      else if (x.outcome === 'silent') r.silent++;
      if (x.hang) r.hangs++;
      if (x.ms > r.slowest.ms) r.slowest = { ms: x.ms, index: x.index, what: `${x.mutation}/${x.path}: ${x.detail}` };
      const m = (r.byMutation[x.mutation] ??= { cases: 0, refused: 0, decoded: 0, failed: 0, codes: {} });
      m.cases++;
      const bad = x.hang || x.outcome === 'raw' || x.outcome === 'silent' || x.outcome === 'killed';
      if (bad) m.failed++;
      else if (x.outcome === 'refused') {
        m.refused++;
        const code = x.message.slice(0, x.message.indexOf(':'));
        m.codes[code] = (m.codes[code] ?? 0) + 1;
      } else m.decoded++;
      r.byPath[x.path] = (r.byPath[x.path] ?? 0) + 1;
      if (x.mutation === 'truncate') cuts.add(x.detail.replace(/ of \d+$/, ''));
      if (bad && r.failures.length < 50) r.failures.push(x);
    },
    report(ms) {
      return { ...r, ms, truncations: { covered: cuts.size, of: truncationCuts } };
    },
  };
}

/** One line: cases, hangs, raw errors, silent wrong decodes, run time. */
export function gmzFuzzSummary(r: GmzFuzzReport): string {
  return (
    `gmz fuzz (seed ${r.seed}): ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s — hangs ${r.hangs}, raw errors ${r.raw}, silent wrong decodes ${r.silent} ` +
    `(${r.refused} refused with a GmzError, ${r.decoded} decoded to the original images; truncations: ${r.truncations.covered} of ${r.truncations.of} cuts; ` +
    `slowest case ${r.slowest.ms.toFixed(0)} ms)`
  );
}

/** Options of {@link fuzzGmz}. */
export interface GmzFuzzOptions {
  /** Cases to run (default 10,000). */
  cases?: number;
  /** Seed of the corpus and of every case (default 1). */
  seed?: number;
  /** First case (default 0): cases first … first + cases − 1 run. */
  first?: number;
  /** A case over this is a hang (default 2000 ms). */
  timeLimitMs?: number;
  /** Called before each case (a watchdog's heartbeat) and after it. */
  onStart?: (index: number, c: GmzFuzzCase) => void;
  onCase?: (result: GmzFuzzResult) => void;
  /** A corpus already built for this seed. */
  corpus?: GmzFuzzCorpus;
}

/** Runs a seeded fuzz of .gmz decoding in this thread and reports its figures (see the module comment). */
export async function fuzzGmz(options: GmzFuzzOptions = {}): Promise<GmzFuzzReport> {
  const { cases = 10_000, seed = 1, first = 0, timeLimitMs = 2000 } = options;
  const t0 = performance.now();
  const corpus = options.corpus ?? (await gmzFuzzCorpus(seed));
  const tally = gmzFuzzTally(seed, corpus.truncationCuts);
  for (let k = first; k < first + cases; k++) {
    const c = gmzFuzzCase(corpus, seed, k);
    options.onStart?.(k, c);
    const result = await runGmzFuzzCase(c, timeLimitMs);
    tally.add(result);
    options.onCase?.(result);
  }
  return tally.report(performance.now() - t0);
}
