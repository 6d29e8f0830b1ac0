/**
 * The checkpoints shipped with the page: `models/index.json`, written by scripts/train-models.mjs beside the
 * checkpoint folders it trains (the one list of what is shipped, and how each was made).
 */
export interface ShippedModel {
  /** Folder under models/. */
  name: string;
  /** Which panel shows it. */
  panel: 'digits' | 'flow';
  /** A short label for the model menu. */
  label: string;
  /** How it was trained (the command or call). */
  trainedWith: string;
}

/** The shipped models, read from `models/index.json` next to the page. */
export async function shippedModels(): Promise<ShippedModel[]> {
  const url = new URL('models/index.json', document.baseURI);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url.pathname}: HTTP ${response.status} (the page's list of shipped models)`);
  const list = (await response.json()) as { models?: ShippedModel[] };
  if (!Array.isArray(list.models)) throw new Error(`${url.pathname}: expected { "models": [...] }`);
  return list.models;
}

/** A shipped model's folder as an absolute URL (what the workers load from). */
export function shippedUrl(model: ShippedModel): string {
  return new URL(`models/${model.name}/`, document.baseURI).href;
}
