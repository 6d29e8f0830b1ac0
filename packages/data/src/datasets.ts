/**
 * The datasets gm knows by name (Node): one table — name, loader, description, image shape, class names — that the
 * library's {@link loadDataset} and the `gm` command's `--data` both read. A spec is `<name>`, `<name>:<argument>`
 * (a folder or files) and, for your own data, `?key=value&…` options: `mnist:/data/mnist`,
 * `images:photos?size=64x64&channels=3`, `npy:x.npy,y.npy`.
 */
import type { ImageDataset } from './dataset.js';
import { DataError } from './errors.js';
import { loadBundledMnist } from './bundled.js';
import { CIFAR10_LABELS } from './cifar-format.js';
import { loadCifar10 } from './cifar.js';
import { loadImageFolder, type ImageFit, type ImageFolderLabels } from './image-folder.js';
import { FASHION_MNIST_LABELS } from './mnist-format.js';
import { loadFashionMnist, loadMnist } from './mnist.js';
import { loadNpy } from './npy-file.js';
import { trainValidationSplit } from './split.js';

/** The names of the datasets in {@link DATASETS}. */
export type DatasetName = 'mnist-bundled' | 'mnist' | 'fashion-mnist' | 'cifar' | 'images' | 'npy';

/** A parsed dataset spec (see {@link parseDatasetSpec}). */
export interface DatasetSpec {
  kind: DatasetName;
  /** What follows the first ':' without the options: a folder, or files separated by ','. */
  arg?: string;
  /** The `key=value` options after '?'. */
  options?: Readonly<Record<string, string>>;
}

/** A dataset's train and test splits. */
export interface DatasetSplits {
  train: ImageDataset;
  test: ImageDataset;
}

/** What {@link loadDataset} returns: the splits, in HWC layout, and what they are. */
export interface LoadedDataset extends DatasetSplits {
  /** For people: `Fashion-MNIST from /data/fashion`. */
  title: string;
  /** One image, `[height, width, channels]`. */
  shape: [number, number, number];
  /** Class names by label, when known. */
  labelNames?: readonly string[];
}

/** A `?key=value` option of a spec: the values it takes (for help text), how they are checked, what it does. */
export interface DatasetOption {
  values: string;
  pattern: RegExp;
  help: string;
}

/** One row of the registry. */
export interface DatasetEntry {
  name: DatasetName;
  /** `name` or `name:<argument>`, as typed. */
  usage: string;
  /** `built-in`: a known corpus; `own`: a format for your own data. */
  group: 'built-in' | 'own';
  /** What the argument is: nothing, a folder, or files. */
  argument: 'none' | 'folder' | 'files';
  /** Short, for titles: `Fashion-MNIST`. */
  title: string;
  /** One line for help text. */
  description: string;
  /** One image's `[height, width, channels]` when every dataset of this name has it. */
  shape?: readonly [number, number, number];
  /** The class names, when fixed. */
  labelNames?: readonly string[];
  /** The `?key=value` options it takes. */
  options: Readonly<Record<string, DatasetOption>>;
  /** Loads the splits (HWC). */
  load(arg: string, options: Readonly<Record<string, string>>): Promise<DatasetSplits>;
}

/** The seed of the fixed shuffle that holds out the test images of your own data (`images:`, `npy:`). */
export const OWN_DATA_SPLIT_SEED = 20_240_601;
/** The share of your own images held out as the test split unless `test=` says otherwise. */
export const OWN_DATA_TEST_FRACTION = 0.1;

const TEST_OPTION: DatasetOption = {
  values: '<fraction>',
  pattern: /^(0(\.\d+)?|1(\.0*)?|\.\d+)$/,
  help: `share held out as the test split (default ${OWN_DATA_TEST_FRACTION}; a fixed seeded shuffle)`,
};

/** Your own data as train and test: a fixed seeded shuffle holds out `test=` of it (default 10 %). */
function holdOut(ds: ImageDataset, options: Readonly<Record<string, string>>): DatasetSplits {
  const fraction = options.test === undefined ? OWN_DATA_TEST_FRACTION : Number(options.test);
  const { train, validation } = trainValidationSplit(ds, { seed: OWN_DATA_SPLIT_SEED, validationFraction: fraction });
  return { train, test: validation };
}

function sizeOption(text: string): [number, number] {
  const [h, w = h] = text.split('x').map(Number);
  return [h!, w!];
}

/**
 * Every dataset gm reads by name, in the order help text lists them. Built in: the bundled digits, MNIST,
 * Fashion-MNIST and CIFAR-10 from their files; your own: a folder of pictures or a pair of `.npy` arrays.
 */
export const DATASETS: readonly DatasetEntry[] = [
  {
    name: 'mnist-bundled',
    usage: 'mnist-bundled',
    group: 'built-in',
    argument: 'none',
    title: 'bundled MNIST',
    description: '10,000 digits shipped with gm',
    shape: [28, 28, 1],
    options: {},
    load: () => Promise.resolve(loadBundledMnist()),
  },
  {
    name: 'mnist',
    usage: 'mnist:<dir>',
    group: 'built-in',
    argument: 'folder',
    title: 'MNIST',
    description: 'the four MNIST IDX files',
    shape: [28, 28, 1],
    options: {},
    load: (dir) => loadMnist({ dir }),
  },
  {
    name: 'fashion-mnist',
    usage: 'fashion-mnist:<dir>',
    group: 'built-in',
    argument: 'folder',
    title: 'Fashion-MNIST',
    description: 'the four Fashion-MNIST IDX files, 10 classes of clothing',
    shape: [28, 28, 1],
    labelNames: FASHION_MNIST_LABELS,
    options: {},
    load: (dir) => loadFashionMnist({ dir }),
  },
  {
    name: 'cifar',
    usage: 'cifar:<dir>',
    group: 'built-in',
    argument: 'folder',
    title: 'CIFAR-10',
    description: 'CIFAR-10 binary batches',
    shape: [32, 32, 3],
    labelNames: CIFAR10_LABELS,
    options: {},
    load: (dir) => loadCifar10({ dir }),
  },
  {
    name: 'images',
    usage: 'images:<dir>',
    group: 'own',
    argument: 'folder',
    title: 'images',
    description: 'a folder of PNG/JPEG pictures, class sub-folders as labels',
    options: {
      size: { values: 'HxW', pattern: /^[1-9]\d{0,4}(x[1-9]\d{0,4})?$/, help: 'height x width of every image (default: the first picture\'s)' },
      channels: { values: '1|3|auto', pattern: /^(1|3|auto)$/, help: 'gray, RGB, or gray when every picture is (default auto)' },
      fit: { values: 'cover|contain|fill', pattern: /^(cover|contain|fill)$/, help: 'scale and centre-crop, pad with black, or stretch (default cover)' },
      labels: { values: 'auto|folders|none', pattern: /^(auto|folders|none)$/, help: 'class sub-folders as labels (default auto)' },
      test: TEST_OPTION,
    },
    load: async (dir, o) => {
      const { files: _files, ...ds } = await loadImageFolder(dir, {
        ...(o.size === undefined ? {} : { size: sizeOption(o.size) }),
        ...(o.channels === undefined ? {} : { channels: o.channels === 'auto' ? 'auto' : (Number(o.channels) as 1 | 3) }),
        ...(o.fit === undefined ? {} : { fit: o.fit as ImageFit }),
        ...(o.labels === undefined ? {} : { labels: o.labels as ImageFolderLabels }),
      });
      return holdOut(ds, o);
    },
  },
  {
    name: 'npy',
    usage: 'npy:<images.npy>[,<labels.npy>]',
    group: 'own',
    argument: 'files',
    title: 'NPY arrays',
    description: 'uint8 or float32 images (N, H, W[, C]) and uint8 labels (N,)',
    options: {
      range: { values: 'unit|byte', pattern: /^(unit|byte)$/, help: 'float32 pixels in [0, 1] or in [0, 255] (default unit)' },
      test: TEST_OPTION,
    },
    load: async (arg, o) => {
      const [images, labels, ...more] = arg.split(',');
      if (more.length > 0 || images === '' || labels === '') {
        throw new DataError('BAD_ARGUMENT', arg, 'expected npy:<images.npy> or npy:<images.npy>,<labels.npy>');
      }
      const ds = await loadNpy({
        images: images!,
        ...(labels === undefined ? {} : { labels }),
        ...(o.range === undefined ? {} : { floatRange: o.range as 'unit' | 'byte' }),
      });
      return holdOut(ds, o);
    },
  },
];

/** The registry entry of `name`, or undefined. */
export function datasetEntry(name: string): DatasetEntry | undefined {
  return DATASETS.find((e) => e.name === name);
}

/** `usage[?key=values&…]` of an entry. */
function usageOf(e: DatasetEntry): string {
  const keys = Object.entries(e.options).map(([k, o]) => `${k}=${o.values}`);
  return keys.length === 0 ? e.usage : `${e.usage}[?${keys.join('&')}]`;
}

/**
 * One sentence listing every dataset spec, from {@link DATASETS}: `mnist-bundled (…), mnist:<dir> (…), … or
 * cifar:<dir> (…); your own data: images:<dir>[?…] (…) or npy:… (…)`.
 */
export function describeDatasets(): string {
  const list = (group: DatasetEntry['group']): string => {
    const items = DATASETS.filter((e) => e.group === group).map((e) => `${usageOf(e)} (${e.description})`);
    return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
  };
  return `${list('built-in')}; your own data: ${list('own')}`;
}

/** The `key=value&…` after the last '?', when the text there is options (a '?' inside a path is left alone). */
function splitOptions(rest: string): [string, string | undefined] {
  const q = rest.lastIndexOf('?');
  if (q < 0) return [rest, undefined];
  const tail = rest.slice(q + 1);
  return /^[a-z]+=[^&=]*(&[a-z]+=[^&=]*)*$/.test(tail) ? [rest.slice(0, q), tail] : [rest, undefined];
}

/**
 * Parses a dataset spec without reading anything: `<name>`, `<name>:<argument>` and `?key=value&…` options, checked
 * against {@link DATASETS} (the name, whether an argument is needed, each option and its value). A bad spec is a
 * `BAD_ARGUMENT` {@link DataError} naming the spec; an unknown name's message lists every spec
 * ({@link describeDatasets}).
 */
export function parseDatasetSpec(spec: string): DatasetSpec {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const entry = datasetEntry(name);
  if (entry === undefined) throw new DataError('BAD_ARGUMENT', spec, `unknown dataset: expected ${describeDatasets()}`);
  if (entry.argument === 'none') {
    if (colon >= 0) throw new DataError('BAD_ARGUMENT', spec, `${name} takes no argument: expected "${entry.usage}"`);
    return { kind: entry.name };
  }
  const [arg, optionText] = colon < 0 ? ['', undefined] : splitOptions(spec.slice(colon + 1));
  if (arg === '') throw new DataError('BAD_ARGUMENT', spec, `expected ${usageOf(entry)}`);
  const options: Record<string, string> = {};
  for (const pair of optionText === undefined ? [] : optionText.split('&')) {
    const [key, value = ''] = pair.split('=') as [string, string?];
    const known = entry.options[key];
    if (known === undefined) {
      const keys = Object.keys(entry.options);
      throw new DataError('BAD_ARGUMENT', spec, `unknown option "${key}" of ${name}: expected ${keys.length === 0 ? 'none' : keys.join(', ')}`);
    }
    if (!known.pattern.test(value)) throw new DataError('BAD_ARGUMENT', spec, `option ${key}=${value} of ${name}: expected ${key}=${known.values}`);
    options[key] = value;
  }
  return Object.keys(options).length === 0 ? { kind: entry.name, arg } : { kind: entry.name, arg, options };
}

/** The spec as text again: `images:photos?size=32x32`. */
export function formatDatasetSpec(spec: DatasetSpec): string {
  const options = Object.entries(spec.options ?? {}).map(([k, v]) => `${k}=${v}`);
  return `${spec.kind}${spec.arg === undefined ? '' : `:${spec.arg}`}${options.length === 0 ? '' : `?${options.join('&')}`}`;
}

/**
 * Loads a dataset by spec (text, or parsed by {@link parseDatasetSpec}) through the registry: the splits in HWC
 * layout, their image shape, a title, and the class names when known. Your own data (`images:`, `npy:`) has no
 * split of its own: a fixed seeded shuffle ({@link OWN_DATA_SPLIT_SEED}) holds out `test=` of it (default 10 %) as
 * the test split, the same on every run.
 *
 * @example
 * ```ts
 * const fashion = await loadDataset('fashion-mnist:/data/fashion-mnist');
 * const mine = await loadDataset('images:photos?size=64x64&channels=3&fit=contain');
 * ```
 */
export async function loadDataset(spec: string | DatasetSpec): Promise<LoadedDataset> {
  const parsed = typeof spec === 'string' ? parseDatasetSpec(spec) : parseDatasetSpec(formatDatasetSpec(spec));
  const entry = datasetEntry(parsed.kind)!;
  const { train, test } = await entry.load(parsed.arg ?? '', parsed.options ?? {});
  const [a, b, c] = train.shape;
  const shape: [number, number, number] = train.layout === 'HWC' ? [a, b, c] : [b, c, a];
  const labelNames = train.labelNames ?? entry.labelNames;
  return {
    train,
    test,
    title: parsed.arg === undefined ? entry.title : `${entry.title} from ${parsed.arg}`,
    shape,
    ...(labelNames === undefined ? {} : { labelNames }),
  };
}
