/** Learning rate at a step: linear warm-up, then cosine decay to minLr at the last step (nanoGPT). */
export interface ScheduleOptions {
  lr: number;
  minLr: number;
  warmup: number;
  steps: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  if (step < o.warmup) return (o.lr * (step + 1)) / (o.warmup + 1);
  if (step >= o.steps) return o.minLr;
  const ratio = (step - o.warmup) / Math.max(1, o.steps - o.warmup);
  return o.minLr + 0.5 * (1 + Math.cos(Math.PI * ratio)) * (o.lr - o.minLr);
}
