/** Download speed over the last few seconds (a sliding window), for progress and ETA; the one line that shows a download's state. */
import { formatBytes } from '../../protocol/format.js';
import type { DownloadProgress } from './resolve.js';

const WINDOW_MS = 5000;

export class Throughput {
  private readonly samples: { t: number; bytes: number }[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Records `bytes` (a running total) and returns bytes a second over the window; 0 with no time elapsed. */
  sample(bytes: number): number {
    const t = this.now();
    this.samples.push({ t, bytes });
    while (this.samples.length > 2 && t - this.samples[0].t > WINDOW_MS) this.samples.shift();
    const first = this.samples[0];
    const dt = (t - first.t) / 1000;
    return dt > 0 ? Math.max(0, (bytes - first.bytes) / dt) : 0;
  }
}

function seconds(s: number | undefined): string {
  if (s === undefined || !Number.isFinite(s)) return '--';
  const t = Math.round(s);
  return t >= 3600 ? `${Math.floor(t / 3600)}h${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m` : t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

/** One line of a download's state: `1.2 GiB / 6.4 GiB, 48 MiB/s, ETA 1m50s, model-00001-of-00002.safetensors`. */
export function describeDownload(p: DownloadProgress): string {
  return `${formatBytes(p.bytes)} / ${formatBytes(p.totalBytes)}, ${formatBytes(Math.round(p.bytesPerSecond))}/s, ETA ${seconds(p.etaSeconds)}, ${p.file}`;
}

