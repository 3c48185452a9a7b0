/**
 * Progress for long commands on stderr (stdout stays machine-readable): a cli-progress bar in a
 * terminal, a line every few seconds otherwise (CI logs, pipes).
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, payload?: Record<string, string | number>): void;
  stop(): void;
}

export function startProgress(label: string, total: number, extra = ''): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} {eta_formatted} ${extra}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, {});
    return { update: (done, payload) => bar.update(done, payload ?? {}), stop: () => bar.stop() };
  }
  // Not a terminal (a log, CI): a line every 5 s at most, and the latest state when it stops.
  let last = 0;
  let pending: string | undefined;
  return {
    update(done, payload) {
      const details = payload ? Object.entries(payload).map(([k, v]) => `${k}=${v}`).join(' ') : '';
      pending = `${label} ${done}/${total} ${details}\n`;
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      process.stderr.write(pending);
      pending = undefined;
    },
    stop() {
      if (pending !== undefined) process.stderr.write(pending);
      pending = undefined;
    },
  };
}
