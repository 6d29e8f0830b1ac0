/** What WebGL this browser offers: the renderer's name and whether it is a software rasteriser. */

export interface WebglInfo {
  renderer: string;
  /** SwiftShader, llvmpipe and other CPU rasterisers: tfjs-webgl runs there, but far slower than tfjs-wasm. */
  software: boolean;
}

const SOFTWARE = /swiftshader|llvmpipe|softpipe|software/i;

/** Probes a throw-away WebGL context; undefined when the browser gives none (e.g. GPU disabled and no fallback). */
export function probeWebgl(): WebglInfo | undefined {
  const canvas = document.createElement('canvas');
  const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
  if (gl === null) return undefined;
  const debug = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(debug === null ? gl.RENDERER : debug.UNMASKED_RENDERER_WEBGL));
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { renderer, software: SOFTWARE.test(renderer) };
}
