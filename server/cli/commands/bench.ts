/**
 * `inheritune bench`: training steps and the attention-analysis forward pass, timed on fixed
 * configurations, with the backend, the kernels (native BLAS or tfjs's own) and peak memory.
 *
 *   a  train  4 layers, d 128, 4 heads, 64 tokens x 8, vocab 512
 *   b  train  12 layers, d 768, 12 heads, 128 tokens x 4, vocab 50304 (GPT-2 small's shape)
 *   c  analysis of b's model on the paper's 100 windows of 100 tokens (its forward, then the whole analysis)
 *
 * Each configuration runs in a child process of its own, so each peak RSS is that configuration's
 * alone. Training is the engine's Trainer (AdamW, clipping, the real step); the time of a step is
 * the median over the timed steps after warm-up. With --memory-steps, configuration a keeps
 * training and checks that the tensor count stays constant and RSS flat.
 */
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { Command } from 'commander';
import { Option } from 'commander';
import * as tf from '../../engine/tf.js';
import { initBackend, type BackendName } from '../../engine/backend.js';
import { InherituneError } from '../../engine/errors.js';
import { GPT2 } from '../../engine/gpt2.js';
import type { GPT2Config } from '../../engine/gpt2Config.js';
import { parameterCount } from '../../engine/gpt2Config.js';
import { seededRandom } from '../../engine/init.js';
import { initWeightsOf } from '../../engine/modelFamily.js';
import { ANALYSIS_BATCH, analyzeAttention } from '../../engine/analyze.js';
import { evaluationMemory, trainingTensorBytes } from '../../engine/resources.js';
import { Trainer } from '../../engine/train/trainer.js';
import { makeBatch } from '../../engine/data/windows.js';
import { nativeStatus, setNativeThreads } from '../../engine/native/index.js';
import { kernelTimes, profileKernels, resetKernelTimes, sgemmRate, type KernelKind } from '../../engine/native/profile.js';
import { backendOption, int } from '../options.js';
import { decoderMatmuls } from '../../engine/webgpu/probe.js';

export interface BenchConfig {
  /** 'shape': a training configuration given with --shape. */
  id: 'a' | 'b' | 'c' | 'shape';
  kind: 'train' | 'analysis';
  layers: number;
  d: number;
  heads: number;
  /** Tokens per sequence (window). */
  seq: number;
  /** Sequences per step (train) or windows analysed (analysis). */
  batch: number;
  vocab: number;
  /** The model's positions: seq for training, b's 128 for the analysis of b's model. */
  positions: number;
  /**
   * Default timed and untimed repetitions: many fast steps, few slow ones. b's first three steps
   * place its tensors in fresh wasm heap pages (the heap grows until the third, and the page faults
   * slow them: its largest product took 290 ms there against 170 ms after); steady state follows.
   */
  steps: number;
  warmup: number;
}

export const BENCH_CONFIGS: readonly BenchConfig[] = [
  { id: 'a', kind: 'train', layers: 4, d: 128, heads: 4, seq: 64, batch: 8, vocab: 512, positions: 64, steps: 20, warmup: 10 },
  { id: 'b', kind: 'train', layers: 12, d: 768, heads: 12, seq: 128, batch: 4, vocab: 50304, positions: 128, steps: 3, warmup: 3 },
  { id: 'c', kind: 'analysis', layers: 12, d: 768, heads: 12, seq: 100, batch: 100, vocab: 50304, positions: 128, steps: 1, warmup: 0 },
];

const SHAPE_KEYS = { L: 'layers', d: 'd', h: 'heads', T: 'seq', B: 'batch', V: 'vocab' } as const;

/** A training configuration from `--shape L12,d768,h12,T128,B4,V50304` (every key once). */
export function parseShape(spec: string): BenchConfig {
  const got: Partial<Record<(typeof SHAPE_KEYS)[keyof typeof SHAPE_KEYS], number>> = {};
  for (const part of spec.split(',').map((s) => s.trim())) {
    const m = /^([LdhTBV])([1-9]\d{0,6})$/.exec(part);
    if (m === null) throw new InherituneError('--shape', `"${part}" is not one of L<layers>, d<width>, h<heads>, T<seq>, B<batch>, V<vocab> (e.g. L12,d768,h12,T128,B4,V50304)`);
    const key = SHAPE_KEYS[m[1] as keyof typeof SHAPE_KEYS];
    if (got[key] !== undefined) throw new InherituneError('--shape', `${m[1]} is given twice`);
    got[key] = Number(m[2]);
  }
  const { layers, d, heads, seq, batch, vocab } = got;
  if (layers === undefined || d === undefined || heads === undefined || seq === undefined || batch === undefined || vocab === undefined) {
    throw new InherituneError('--shape', `"${spec}" must give all of L, d, h, T, B and V`);
  }
  if (d % heads !== 0) throw new InherituneError('--shape', `the width d${d} is not a multiple of the heads h${heads}`);
  return { id: 'shape', kind: 'train', layers, d, heads, seq, batch, vocab, positions: seq, steps: 3, warmup: 1 };
}

export interface MemoryCheck {
  steps: number;
  tensors_first: number;
  tensors_last: number;
  /** RSS after the first tenth of the steps (allocations settled) and after the last one. */
  rss_first_mb: number;
  rss_last_mb: number;
  flat: boolean;
}

/** One configuration's figures (the --json line): its shape as configured, then what was measured. */
export interface BenchResult extends Pick<BenchConfig, 'kind' | 'layers' | 'd' | 'heads' | 'seq' | 'batch' | 'vocab'> {
  config: BenchConfig['id'];
  params: number;
  backend: string;
  /** "openblas ..." when the native kernels ran, else "tfjs". */
  kernels: string;
  threads: number;
  /** Timed repetitions (steps, or analysis passes) after `warmup` untimed ones. */
  reps: number;
  warmup: number;
  ms_per_step: number;
  tokens_per_s: number;
  /** Analysis only: the whole analysis (forward and the per-head statistics) once, in ms. */
  analysis_ms?: number;
  peak_rss_mb: number;
  /** Matrix-product work of one step (training: forward and backward, 3x the forward's), GFLOP. */
  gflop_per_step: number;
  gflop_per_s: number;
  /** The BLAS's sgemm rate measured in the same process just before and after the steps, the higher (native kernels only), and our rate's fraction of it. */
  sgemm_gflop_per_s?: number;
  sgemm_fraction?: number;
  /** Native kernels only: ms per step in each kind of kernel; `other` is the rest (tfjs's own kernels, JavaScript). */
  kernel_ms?: Partial<Record<KernelKind | 'other', number>>;
  /** Backend notes: e.g. why auto chose cpu. */
  note?: string;
  loss?: number;
  memory?: MemoryCheck;
}

/** RSS may grow by this much over the memory check and still count as flat. */
const RSS_SLACK_MB = 64;

/**
 * RSS after a full garbage collection: what the process holds, without the JavaScript garbage that
 * piles up between V8's collections (a sawtooth of some 30 to 80 MB per 100 steps of (a)).
 */
function rssAfterGc(): number {
  collectGarbage ??= exposeGc();
  collectGarbage();
  return process.memoryUsage.rss();
}

let collectGarbage: (() => void) | undefined;

/** V8's gc(), which node exposes only with --expose-gc: set now, and read from a fresh context. */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Estimated peak bytes of a configuration (resources.ts), for the choice `auto` makes. */
function needBytes(cfg: BenchConfig): number {
  const mc = modelConfig(cfg);
  return cfg.kind === 'train' ? trainingTensorBytes(mc, cfg.batch, cfg.seq) : evaluationMemory(mc, ANALYSIS_BATCH, cfg.seq).total;
}

export function modelConfig(cfg: BenchConfig): GPT2Config {
  return {
    family: 'gpt2',
    vocabSize: cfg.vocab,
    nPositions: cfg.positions,
    nEmbd: cfg.d,
    nLayer: cfg.layers,
    nHead: cfg.heads,
    nInner: 4 * cfg.d,
    layerNormEpsilon: 1e-5,
    bias: true,
    scaleAttnByInverseLayerIdx: false,
    tieWordEmbeddings: true,
  };
}

/**
 * Matrix-product FLOPs of one forward pass over `tokens` tokens in windows of `seq`: per layer the
 * four projections (24 d^2 per token) and attention's two products over the window (4 seq d), then
 * the head (2 d V) unless `head` is false (the analysis' forward has none).
 */
export function forwardFlops(cfg: BenchConfig, tokens: number, head = true): number {
  const { d, layers, seq, vocab } = cfg;
  return tokens * (layers * (24 * d * d + 4 * seq * d) + (head ? 2 * d * vocab : 0));
}

/**
 * The machine's sgemm rate, measured again after the steps: the higher of the two (it swings by
 * 10-15% from one minute to the next here), which keeps the fraction conservative.
 */
function sgemmAfterSteps(before: number | undefined): number | undefined {
  return before === undefined ? undefined : Math.max(before, sgemmRate() ?? 0);
}

/** The speed figures of a timed step: GFLOP/s, the sgemm rate's fraction, ms per kernel kind. */
function speedFigures(flop: number, ms: number, sgemm: number | undefined, kernels: Record<KernelKind, number> | undefined, reps: number) {
  const gflopPerS = flop / (ms * 1e6);
  const out: Pick<BenchResult, 'gflop_per_step' | 'gflop_per_s' | 'sgemm_gflop_per_s' | 'sgemm_fraction' | 'kernel_ms'> = {
    gflop_per_step: round(flop / 1e9),
    gflop_per_s: round(gflopPerS),
  };
  if (sgemm !== undefined) {
    out.sgemm_gflop_per_s = round(sgemm);
    out.sgemm_fraction = round(gflopPerS / sgemm, 3);
  }
  if (kernels !== undefined) {
    const per = Object.fromEntries(Object.entries(kernels).map(([k, v]) => [k, round(v / reps)])) as Record<KernelKind, number>;
    const inKernels = Object.values(per).reduce((a, b) => a + b, 0);
    out.kernel_ms = { ...per, other: round(Math.max(0, ms - inKernels)) };
  }
  return out;
}

function randomTokens(n: number, vocab: number, seed: number): Uint16Array {
  const rand = seededRandom(seed);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(rand() * vocab);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

export interface RunOptions {
  backend: BackendName;
  threads: number;
  /** Default: the configuration's own. */
  steps?: number;
  warmup?: number;
  memorySteps: number;
  seed: number;
  onProgress?: (line: string) => void;
}

/** RunOptions with the configuration's own steps and warm-up filled in. */
type BenchOptions = RunOptions & { steps: number; warmup: number };

/** What every result states before the measurements: the configuration and where it ran. */
type BenchBase = Omit<BenchResult, keyof ReturnType<typeof speedFigures> | 'reps' | 'ms_per_step' | 'tokens_per_s' | 'peak_rss_mb' | 'analysis_ms' | 'loss' | 'memory'>;

/** The machine's sgemm rate (GFLOP/s) and whether kernel times are being recorded (native kernels only). */
interface KernelProbes {
  sgemm: number | undefined;
  profiled: boolean;
}

/** The analysis forward pass, timed, then the whole analysis once. */
async function benchAnalysis(cfg: BenchConfig, o: BenchOptions, model: GPT2, base: BenchBase, { sgemm, profiled }: KernelProbes): Promise<BenchResult> {
  const tokens = randomTokens(cfg.seq * cfg.batch + 1, cfg.vocab, o.seed + 1);
  const starts = Array.from({ length: cfg.batch }, (_, i) => i * cfg.seq);
  // The forward pass as `inheritune analyze` runs it: ANALYSIS_BATCH windows at a time, every
  // layer's attention captured and read back to the host.
  const forward = async () => {
    for (let i = 0; i < starts.length; i += ANALYSIS_BATCH) {
      const chunk = starts.slice(i, i + ANALYSIS_BATCH);
      const { inputs } = makeBatch(tokens, chunk, cfg.seq);
      const attention = tf.tidy(() => model.attentionMaps(tf.tensor2d(inputs, [chunk.length, cfg.seq], 'int32')));
      for (const probs of attention) {
        await probs.data();
        probs.dispose();
      }
    }
  };
  const times: number[] = [];
  for (let i = 0; i < o.warmup + o.steps; i++) {
    if (i === o.warmup) resetKernelTimes();
    const t0 = performance.now();
    await forward();
    const ms = performance.now() - t0;
    if (i >= o.warmup) times.push(ms);
    o.onProgress?.(`${cfg.id}: forward ${i + 1}/${o.warmup + o.steps} ${ms.toFixed(0)} ms`);
  }
  const kernelMs = profiled ? kernelTimes() : undefined;
  // The whole analysis once more: forward plus the per-head statistics (k*, m*) on the host.
  const opts = { sequences: cfg.batch, seqLen: cfg.seq, windows: 'contiguous' as const, seed: 0, tau: 0.9, eta: 0.9, mass: 'sorted' as const, batchSize: ANALYSIS_BATCH };
  const t0 = performance.now();
  await analyzeAttention(model, tokens, starts, opts);
  const analysisMs = performance.now() - t0;
  const ms = median(times);
  return {
    ...base,
    reps: o.steps,
    ms_per_step: round(ms),
    tokens_per_s: round((cfg.batch * cfg.seq * 1000) / ms),
    analysis_ms: round(analysisMs),
    peak_rss_mb: peakRssMb(),
    ...speedFigures(forwardFlops(cfg, cfg.batch * cfg.seq, false), ms, sgemmAfterSteps(sgemm), kernelMs, o.steps),
  };
}

/** Training steps, timed; configuration a then trains memorySteps more, checking that tensors and RSS stay flat. */
async function benchTraining(cfg: BenchConfig, o: BenchOptions, model: GPT2, base: BenchBase, { sgemm, profiled }: KernelProbes): Promise<BenchResult> {
  const tokensPerStep = cfg.batch * cfg.seq;
  const memorySteps = cfg.id === 'a' ? o.memorySteps : 0;
  const total = o.warmup + o.steps + memorySteps;
  const train = randomTokens(Math.max(100_000, 8 * (cfg.seq + 1) * cfg.batch), cfg.vocab, o.seed + 1);
  const trainer = new Trainer(
    model,
    {
      steps: total,
      batchTokens: tokensPerStep,
      microBatch: cfg.batch,
      blockSize: cfg.seq,
      lr: 3e-4,
      minLr: 3e-4,
      warmup: 0,
      weightDecay: 0.1,
      betas: [0.9, 0.95],
      gradClip: 1,
      evalEvery: 0,
      seed: o.seed,
      checkpointEvery: 0,
    },
    { train, val: train, valStarts: [0] },
  );
  const times: number[] = [];
  const tensors: number[] = [];
  const rss: number[] = [];
  let loss = NaN;
  let kernelMs: Record<KernelKind, number> | undefined;
  if (o.warmup === 0) resetKernelTimes();
  await trainer.run({
    callbacks: {
      onStep: (m) => {
        // Kernel times over the timed steps only.
        if (m.step === o.warmup) resetKernelTimes();
        if (m.step === o.warmup + o.steps && profiled) kernelMs = kernelTimes();
        const ms = (tokensPerStep / m.tokensPerSec) * 1000;
        if (m.step > o.warmup && m.step <= o.warmup + o.steps) times.push(ms);
        if (m.step > o.warmup + o.steps) {
          tensors.push(tf.memory().numTensors);
          rss.push(rssAfterGc());
        }
        loss = m.trainLoss;
        if (m.step <= o.warmup + o.steps || m.step % 20 === 0 || m.step === total) {
          o.onProgress?.(`${cfg.id}: step ${m.step}/${total} ${ms.toFixed(0)} ms loss ${m.trainLoss.toFixed(3)}`);
        }
      },
    },
  });
  const ms = median(times);
  const result: BenchResult = {
    ...base,
    reps: o.steps,
    ms_per_step: round(ms),
    tokens_per_s: round((tokensPerStep * 1000) / ms),
    peak_rss_mb: peakRssMb(),
    ...speedFigures(3 * forwardFlops(cfg, tokensPerStep), ms, sgemmAfterSteps(sgemm), kernelMs, o.steps),
    loss: round(loss, 4),
  };
  if (memorySteps > 0) {
    const settle = Math.max(1, Math.floor(memorySteps / 10)) - 1;
    const first = rss[settle];
    const last = rss[rss.length - 1];
    result.memory = {
      steps: memorySteps,
      tensors_first: tensors[settle],
      tensors_last: tensors[tensors.length - 1],
      rss_first_mb: mb(first),
      rss_last_mb: mb(last),
      flat: tensors.every((n) => n === tensors[0]) && last - first <= RSS_SLACK_MB * 2 ** 20,
    };
  }
  return result;
}

/** Runs one configuration in this process. */
export async function runBenchConfig(cfg: BenchConfig, opts: RunOptions): Promise<BenchResult> {
  const o: BenchOptions = { ...opts, steps: opts.steps ?? cfg.steps, warmup: opts.warmup ?? cfg.warmup };
  let note: string | undefined;
  const backend = await initBackend(o.backend, {
    needBytes: needBytes(cfg),
    matmuls: decoderMatmuls(cfg.batch * cfg.seq, cfg.d, 4 * cfg.d),
    onNotice: (line) => (note = note === undefined ? line : `${note}; ${line}`),
  });
  setNativeThreads(o.threads);
  const status = nativeStatus();
  const native = status.active && (backend === 'wasm' || backend === 'cpu');
  const kernels = native ? `${(status.blas ?? 'native').replace(/^OpenBLAS OpenBLAS/, 'OpenBLAS')}` : 'tfjs';
  const sgemm = native ? sgemmRate() : undefined;
  const profiled = native && profileKernels();
  const probes: KernelProbes = { sgemm, profiled };
  const mc = modelConfig(cfg);
  const model = new GPT2(mc, initWeightsOf(mc, o.seed));
  const base: BenchBase = {
    config: cfg.id,
    kind: cfg.kind,
    layers: cfg.layers,
    d: cfg.d,
    heads: cfg.heads,
    seq: cfg.seq,
    batch: cfg.batch,
    vocab: cfg.vocab,
    params: parameterCount(mc),
    backend,
    kernels,
    threads: native ? o.threads : 0,
    warmup: o.warmup,
    ...(note !== undefined ? { note } : {}),
  };
  try {
    return cfg.kind === 'analysis' ? await benchAnalysis(cfg, o, model, base, probes) : await benchTraining(cfg, o, model, base, probes);
  } finally {
    model.dispose();
  }
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function describe(r: BenchResult): string {
  const what =
    r.kind === 'train'
      ? `train L${r.layers} d${r.d} h${r.heads} T${r.seq} B${r.batch} V${r.vocab}`
      : `analysis forward L${r.layers} d${r.d} h${r.heads} V${r.vocab}, ${r.batch}x${r.seq}`;
  const cells = [
    r.config.padEnd(3),
    what.padEnd(44),
    r.backend.padEnd(8),
    `${r.ms_per_step.toFixed(1)} ms`.padStart(11),
    `${r.tokens_per_s.toFixed(1)} tok/s`.padStart(15),
    `peak RSS ${r.peak_rss_mb} MB`.padStart(19),
  ];
  let line = cells.join('  ');
  if (r.memory) {
    const m = r.memory;
    line += `\n    memory over ${m.steps} more steps: tensors ${m.tensors_first} -> ${m.tensors_last}, RSS ${m.rss_first_mb} -> ${m.rss_last_mb} MB: ${m.flat ? 'flat' : 'NOT FLAT'}`;
  }
  const sgemm = r.sgemm_fraction !== undefined ? `, ${(100 * r.sgemm_fraction).toFixed(0)}% of sgemm's ${r.sgemm_gflop_per_s?.toFixed(0)} GFLOP/s measured here` : '';
  line += `\n    ${r.gflop_per_step.toFixed(1)} GFLOP per step: ${r.gflop_per_s.toFixed(1)} GFLOP/s${sgemm}`;
  if (r.kernel_ms) line += `\n    ms per step: ${Object.entries(r.kernel_ms).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`;
  if (r.analysis_ms !== undefined) line += `\n    whole analysis (forward and per-head statistics): ${r.analysis_ms.toFixed(0)} ms`;
  if (r.note) line += `\n    note: ${r.note}`;
  return line;
}

interface BenchCliOptions {
  json?: boolean;
  configs: string;
  shape?: string;
  backend: BackendName;
  threads?: number;
  steps?: number;
  warmup?: number;
  memorySteps: number;
  seed: number;
  child?: boolean;
}

function parseConfigs(value: string): BenchConfig[] {
  const ids = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const out: BenchConfig[] = [];
  for (const id of ids) {
    const c = BENCH_CONFIGS.find((x) => x.id === id);
    if (c === undefined) throw new InherituneError('--configs', `unknown configuration "${id}"; choose from ${BENCH_CONFIGS.map((x) => x.id).join(', ')}`);
    if (!out.includes(c)) out.push(c);
  }
  if (out.length === 0) throw new InherituneError('--configs', 'names no configuration');
  return out;
}

/** Runs one configuration in a child process (this CLI, `bench --child`); resolves to its result. */
function runChild(cfg: BenchConfig, o: BenchCliOptions, threads: number, quiet: boolean): Promise<BenchResult> {
  const args = [
    ...process.execArgv,
    process.argv[1],
    'bench',
    '--child',
    ...(cfg.id === 'shape' ? ['--shape', o.shape ?? ''] : ['--configs', cfg.id]),
    '--backend',
    o.backend,
    '--threads',
    String(threads),
    ...(o.steps !== undefined ? ['--steps', String(o.steps)] : []),
    ...(o.warmup !== undefined ? ['--warmup', String(o.warmup)] : []),
    '--memory-steps',
    String(o.memorySteps),
    '--seed',
    String(o.seed),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let partial = '';
    // The child's stderr: progress lines (shown unless quiet), the addon notice (shown once per
    // bench run, not once per child), error lines (always shown).
    const forward = (line: string) => {
      if (line.startsWith('note: native kernels')) {
        if (!noticeShown) process.stderr.write(`${line}\n`);
        noticeShown = true;
      } else if (!quiet || line.startsWith('error')) process.stderr.write(`${line}\n`);
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      lines.forEach(forward);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (partial !== '') forward(partial);
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as BenchResult);
      else {
        const why = signal !== null ? `killed by ${signal}` : `exit status ${code}`;
        const detail = (err.trim().split('\n').pop() ?? '').replace(/^error: /, '');
        reject(new InherituneError(`bench ${cfg.id}`, `${why}${detail ? `: ${detail}` : ''}`));
      }
    });
  });
}

let noticeShown = false;

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('times training steps and the analysis forward pass on fixed model shapes (tokens/s, backend, peak RSS)')
    .option('--json', 'print one JSON object per configuration')
    .option('--configs <ids>', `configurations to run, comma-separated: ${BENCH_CONFIGS.map((c) => c.id).join(',')}`, 'a,b,c')
    .option('--shape <spec>', 'instead of --configs, one training configuration of this shape: L<layers>,d<width>,h<heads>,T<seq>,B<batch>,V<vocab> (e.g. L12,d768,h12,T128,B16,V50304)')
    .addOption(backendOption())
    .option('--threads <N>', 'BLAS threads of the native kernels (default: one per core)', int(1, 256))
    .option('--steps <N>', 'timed steps (analysis passes) per configuration, median reported (default: a 20, b 3, c 1)', int(1))
    .option('--warmup <N>', 'untimed steps (passes) first (default: a 10, b 1, c 0)', int(0))
    .option('--memory-steps <N>', 'configuration a trains N more steps checking that tensor count and RSS stay flat (0: skip)', int(0), 200)
    .option('--seed <S>', 'seed of the weights and tokens', int(0), 0)
    .addOption(new Option('--child').hideHelp())
    .action(async (o: BenchCliOptions) => {
      const configs = o.shape !== undefined ? [parseShape(o.shape)] : parseConfigs(o.configs);
      const threads = o.threads ?? (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
      if (o.child) {
        // One configuration, in this process; its result as one JSON line for the parent.
        const r = await runBenchConfig(configs[0], { ...o, threads, onProgress: (l) => process.stderr.write(`${l}\n`) });
        process.stdout.write(`${JSON.stringify(r)}\n`);
        return;
      }
      if (!o.json) {
        process.stderr.write(`bench: ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, ${threads} BLAS thread(s)\n`);
      }
      let failed = 0;
      for (const cfg of configs) {
        let r: BenchResult;
        try {
          r = await runChild(cfg, o, threads, o.json === true);
        } catch (e) {
          if (!(e instanceof InherituneError)) throw e;
          failed++;
          if (o.json) process.stdout.write(`${JSON.stringify({ config: cfg.id, error: e.detail })}\n`);
          else process.stderr.write(`error: ${e.message}\n`);
          continue;
        }
        if (o.json) process.stdout.write(`${JSON.stringify(r)}\n`);
        else process.stdout.write(`${describe(r)}\n    kernels: ${r.kernels}${r.threads ? `, ${r.threads} thread(s)` : ''}\n`);
        if (r.memory && !r.memory.flat) failed++;
      }
      if (failed > 0) process.exitCode = 1;
    });
}
