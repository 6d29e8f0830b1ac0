/**
 * Does a checkpoint's network match its config? A model loads each tfjs part from its own topology file, and the
 * config in the manifest is what the model reports and rebuilds from; they must agree. The signature of a network is
 * its topology with everything incidental removed — layer names (replaced by the layer's index wherever they
 * appear, so ties and connections still count), the model's name — so a network built afresh from the config has
 * the same signature as the stored one exactly when they compute the same function shape for shape.
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import { GmError } from '@gm/core';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Replaces layer names by `#<index>` and drops `name` keys, recursively. */
function anonymise(value: Json, names: ReadonlyMap<string, number>): Json {
  if (typeof value === 'string') {
    const i = names.get(value);
    return i === undefined ? value : `#${i}`;
  }
  if (Array.isArray(value)) return value.map((v) => anonymise(v, names));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) {
      if (key === 'name') continue;
      out[key] = anonymise(value[key] as Json, names);
    }
    return out;
  }
  return value;
}

/** One entry per layer: its class and its anonymised config and connections. */
export function topologySignature(model: tfl.LayersModel): string[] {
  const json = model.toJSON(undefined, false) as unknown as { config: { layers: Array<{ class_name: string; config: Json; inbound_nodes?: Json }> } };
  const layers = json.config.layers;
  const names = new Map<string, number>();
  model.layers.forEach((l, i) => names.set(l.name, i));
  return layers.map((l) => JSON.stringify([l.class_name, anonymise(l.config, names), anonymise(l.inbound_nodes ?? [], names)]));
}

/**
 * Throws a GmError naming `where` (the part's model.json) and the first layer that differs when the stored network
 * `stored` is not what the config builds (`built`).
 */
export function checkTopology(where: string, stored: tfl.LayersModel, built: tfl.LayersModel): void {
  const a = topologySignature(stored);
  const b = topologySignature(built);
  if (a.length !== b.length) {
    throw new GmError('CORRUPT', where, `the network has ${a.length} layers, the checkpoint's config builds ${b.length}: the topology or the config was edited`);
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const layer = stored.layers[i];
      throw new GmError(
        'CORRUPT',
        where,
        `layer ${i} (${layer?.getClassName() ?? '?'}) differs from what the checkpoint's config builds: the topology or the config was edited (stored ${a[i]!.slice(0, 160)}; built ${b[i]!.slice(0, 160)})`,
      );
    }
  }
}
