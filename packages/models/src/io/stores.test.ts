import { describe, expect, it } from 'vitest';
import { readCheckpoint } from './checkpoint';
import { filesStore, memoryStore, urlStore, zipCheckpoint, zipStore } from './stores';

const text = async (p: Promise<Uint8Array>) => new TextDecoder().decode(await p);

describe('a checkpoint folder picked in a page (filesStore)', () => {
  it('reads explicit relative paths', async () => {
    const files = [new File(['{"m":1}'], 'gm-checkpoint.json'), new File(['enc'], 'model.json'), new File(['dec'], 'model.json')];
    const explicit = filesStore(files, ['gm-checkpoint.json', 'encoder/model.json', 'decoder/model.json']);
    expect(await text(explicit.read('gm-checkpoint.json'))).toBe('{"m":1}');
    expect(await text(explicit.read('encoder/model.json'))).toBe('enc');
    expect(await text(explicit.read('decoder/model.json'))).toBe('dec');
  });

  it('strips the picked folder, finds a checkpoint one folder down, and names the folder when a file is missing', async () => {
    const files = [new File(['{}'], 'gm-checkpoint.json'), new File(['w'], 'weights.bin'), new File(['x'], 'notes.txt')];
    const withPaths = files.map((f, i) =>
      Object.defineProperty(f, 'webkitRelativePath', { value: ['out/vae/gm-checkpoint.json', 'out/vae/encoder/weights.bin', 'out/notes.txt'][i] }),
    );
    const src = filesStore(withPaths);
    expect(src.label).toBe('out/vae');
    expect(await text(src.read('gm-checkpoint.json'))).toBe('{}');
    expect(await text(src.read('encoder/weights.bin'))).toBe('w');
    await expect(src.read('decoder/model.json')).rejects.toThrow('out/vae/decoder/model.json: not among the picked files');
  });
});

describe('urlStore and memory/zip stores', () => {
  it('fetches relative to the folder URL and names the URL on HTTP errors', async () => {
    const seen: string[] = [];
    const fake = (async (input: RequestInfo | URL) => {
      seen.push(String(input));
      return String(input).endsWith('a.bin') ? new Response(Uint8Array.of(7)) : new Response('nope', { status: 404, statusText: 'Not Found' });
    }) as typeof fetch;
    const store = urlStore('https://models.test/vae', fake);
    expect([...(await store.read('a.bin'))]).toEqual([7]);
    await expect(store.read('b.bin')).rejects.toThrow('https://models.test/vae/b.bin: HTTP 404 Not Found');
    expect(seen).toEqual(['https://models.test/vae/a.bin', 'https://models.test/vae/b.bin']);
    expect(store.write).toBeUndefined();
  });

  it('a folder URL that holds no checkpoint is refused with the HTTP status, the path named once', async () => {
    const fake = (async () => new Response('nope', { status: 404, statusText: 'Not Found' })) as typeof fetch;
    await expect(readCheckpoint(urlStore('https://models.test/none', fake))).rejects.toThrow(
      'https://models.test/none/gm-checkpoint.json: not found — https://models.test/none is not a gm checkpoint folder (HTTP 404 Not Found)',
    );
  });

  it('a zip carries every file of a memory store', async () => {
    const mem = memoryStore(new Map([['a/b.bin', Uint8Array.of(1, 2)], ['c.json', new TextEncoder().encode('{}')]]));
    const zip = zipStore(zipCheckpoint(mem.files));
    expect([...(await zip.read('a/b.bin'))]).toEqual([1, 2]);
    expect(await text(zip.read('c.json'))).toBe('{}');
    await expect(zip.read('nope')).rejects.toThrow('checkpoint.zip/nope: no such file');
  });
});
