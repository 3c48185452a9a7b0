/**
 * How numbers and model shapes read wherever a person sees them: the CLI, hovers and completions,
 * the sidebar and quick picks. Pure, so every process and webview shares it.
 */
import type { ModelFamilyName, ModelShape } from './config.js';

/** Display names of the model families. */
export const FAMILY_NAMES: Record<ModelFamilyName, string> = { gpt2: 'GPT-2', llama: 'LLaMA', qwen2: 'Qwen2' };

/** 124439808 -> "124.4M", 85120 -> "85.1K", 950 -> "950". */
export function formatParams(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 1 : 2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 1 : 2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}K`;
  return String(n);
}

/** 1234567 -> "1,234,567". */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in powers of 1024: "512 bytes", "1.5 KiB", "23 GiB". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n < 10 ? n.toFixed(1) : Math.round(n)} ${units[i]}`;
}

/**
 * One line for a model's shape, the same for every family:
 * "LLaMA · 3 layers · width 16 · 4 heads (2 key/value) · MLP 24 · vocabulary 320 · context 64 · 16.1K parameters".
 */
export function describeModelShape(s: ModelShape): string {
  const heads = s.nKvHead < s.nHead ? `${s.nHead} heads (${s.nKvHead} key/value)` : `${s.nHead} heads`;
  return [
    FAMILY_NAMES[s.family],
    `${s.layers} layers`,
    `width ${s.nEmbd}`,
    heads,
    `MLP ${s.nInner}`,
    `vocabulary ${formatCount(s.vocabSize)}`,
    `context ${s.nPositions}`,
    `${formatParams(s.params)} parameters`,
  ].join(' · ');
}

function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

/** One line of a download's state: `1.2 GiB / 6.4 GiB, 48 MiB/s, ETA 1m50s, model-00001-of-00002.safetensors`. */
export function describeDownload(p: { file: string; bytes: number; totalBytes: number; bytesPerSecond: number; etaSeconds?: number }): string {
  return `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}, ${formatBytes(Math.round(p.bytesPerSecond))}/s, ETA ${seconds(p.etaSeconds)}, ${p.file}`;
}

