/** The lazy-layer strip under the sidebar's layer slider: one bar per reference layer. Pure. */
import type { LayerStrip } from '../protocol.js';

export interface StripBar {
  layer: number;
  /** 0..1 of the strip's height (MaxRank relative to the largest; a small floor keeps rank-1 bars visible). */
  height: number;
  maxRank: number | null;
  lazy: boolean;
  title: string;
}

/** Bars for `layers` reference layers; layers without statistics get an empty, grey bar. */
export function stripBars(strip: LayerStrip | null, layers: number): StripBar[] {
  const byLayer = new Map((strip?.layers ?? []).map((l) => [l.layer, l]));
  const top = Math.max(1, ...(strip?.layers ?? []).map((l) => l.maxRank));
  const out: StripBar[] = [];
  for (let l = 0; l < layers; l++) {
    const s = byLayer.get(l);
    out.push(
      s
        ? {
            layer: l,
            height: Math.max(0.08, s.maxRank / top),
            maxRank: s.maxRank,
            lazy: s.lazy,
            title: `layer ${l + 1}: MaxRank ${s.maxRank.toFixed(2)}, AvgMass ${s.avgMass.toFixed(2)}${s.lazy ? ' (lazy)' : ''}`,
          }
        : { layer: l, height: 0.05, maxRank: null, lazy: false, title: `layer ${l + 1}: not analysed` },
    );
  }
  return out;
}

/** What the strip says before any analysis of the reference: what it will show, and on which windows. */
export function stripPlaceholder(layers: number, windows: { sequences: number | null; seqLen: number | null } | null, val: string): string {
  const on = windows?.sequences && windows.seqLen && val ? ` on the run's ${windows.sequences} windows of ${windows.seqLen} tokens of ${val}` : '';
  return `Analyze the reference${on} to see here how much each of its ${layers} layers attends: one bar per layer (its MaxRank); red bars are lazy layers (rank-1 attention), the ones a smaller model can do without.`;
}
