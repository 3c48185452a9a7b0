/** The two config defaults that depend on the reference model's layer count. */
import type { ResolvedRunConfig, RunConfig } from './configTypes.js';

/** Default target layers for a reference of k layers: floor(k/2), at least 1. */
export function defaultTargetLayers(k: number): number {
  return Math.max(1, Math.floor(k / 2));
}

/** Fills target.layers (floor(k/2)) and grow.max_layers (k) from the reference's k layers. */
export function resolveLayers(config: RunConfig, referenceLayers: number): Omit<ResolvedRunConfig, 'reference'> & Pick<RunConfig, 'reference'> {
  const c = structuredClone(config);
  return {
    ...c,
    target: { ...c.target, layers: c.target.layers ?? defaultTargetLayers(referenceLayers) },
    grow: { ...c.grow, max_layers: c.grow.max_layers ?? referenceLayers },
  };
}
