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
  let last = 0;
  return {
    update(done, payload) {
      const now = Date.now();
      if (now - last < 5000 && done < total) return;
      last = now;
      const details = payload ? Object.entries(payload).map(([k, v]) => `${k}=${v}`).join(' ') : '';
      process.stderr.write(`${label} ${done}/${total} ${details}\n`);
    },
    stop() {},
  };
}
