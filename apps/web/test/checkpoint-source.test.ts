import { describe, expect, it } from 'vitest';
import { filesSource } from '../src/checkpoint';

const text = async (p: Promise<Uint8Array>) => new TextDecoder().decode(await p);

describe('checkpoint folder picked in the browser', () => {
  it('strips the picked folder name from webkitRelativePath-style paths', async () => {
    const files = [new File(['{"m":1}'], 'gm-checkpoint.json'), new File(['enc'], 'model.json'), new File(['dec'], 'model.json')];
    const src = filesSource(files, undefined);
    // Without relative paths, files are keyed by name only: the two model.json files collide, so use explicit paths.
    expect(await text(src.read('gm-checkpoint.json'))).toBe('{"m":1}');
    const explicit = filesSource(files, ['gm-checkpoint.json', 'encoder/model.json', 'decoder/model.json']);
    expect(await text(explicit.read('encoder/model.json'))).toBe('enc');
    expect(await text(explicit.read('decoder/model.json'))).toBe('dec');
  });

  it('finds a checkpoint one folder down and names the folder when a file is missing', async () => {
    const files = [new File(['{}'], 'gm-checkpoint.json'), new File(['w'], 'weights.bin'), new File(['x'], 'notes.txt')];
    const withPaths = files.map((f, i) =>
      Object.defineProperty(f, 'webkitRelativePath', { value: ['out/vae/gm-checkpoint.json', 'out/vae/encoder/weights.bin', 'out/notes.txt'][i] }),
    );
    const src = filesSource(withPaths);
    expect(src.label).toBe('folder "out/vae"');
    expect(await text(src.read('gm-checkpoint.json'))).toBe('{}');
    expect(await text(src.read('encoder/weights.bin'))).toBe('w');
    await expect(src.read('decoder/model.json')).rejects.toThrow('decoder/model.json is missing from folder "out/vae"');
  });
});
