/** Download speed over the last few seconds (a sliding window), for progress and ETA. */
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
