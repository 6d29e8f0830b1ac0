/** The typed image dataset every gm package passes around (loaded by @gm/data, trained on by @gm/models). */

/** How one image's bytes are ordered: height-width-channels (tfjs's NHWC per image) or channels-height-width. */
export type ImageLayout = 'HWC' | 'CHW';

/**
 * `count` images of `shape` bytes each, one after another in `images`, and one label byte per image.
 *
 * @example
 * ```ts
 * const { train } = loadBundledMnist();
 * train.shape;        // [28, 28, 1]
 * train.images.length === train.count * 28 * 28; // true
 * ```
 */
export interface ImageDataset {
  /** Pixel bytes, `count × shape[0] × shape[1] × shape[2]` of them. */
  images: Uint8Array;
  /** One class index per image. */
  labels: Uint8Array;
  /** One image's shape in `layout` order: `[height, width, channels]` for HWC, `[channels, height, width]` for CHW. */
  shape: readonly [number, number, number];
  /** Byte order within one image. */
  layout: ImageLayout;
  /** Number of images. */
  count: number;
  /** Human-readable class names by label, when known (CIFAR-10). */
  labelNames?: readonly string[];
}

/**
 * What a model's input tensor holds, so a trainer or a CLI can turn pixel bytes into it:
 * - `'binary'`: 0/1 (pixels binarized at 127.5),
 * - `'bin-centres'`: 2v/(levels−1) − 1 ∈ [−1, 1] (discretized likelihoods),
 * - `'pixels'`: the integer pixel values v as floats (flows that dequantize inside),
 * - `'unit'`: v/255 ∈ [0, 1] (autoencoders),
 * - `'continuous'`: real vectors that are not images (toy densities).
 */
export type InputConvention = 'binary' | 'bin-centres' | 'pixels' | 'unit' | 'continuous';
