/**
 * runtime.engine: torch. Trains one model in a PyTorch worker process (server/torch/, `python3 -m
 * server.torch train <job.json>`, under torchrun when runtime.nproc or nnodes > 1) and relays its
 * progress. This side prepares everything the worker must see exactly as the tfjs engine would: the
 * token arrays as .bin files, the initial weights as an HF model folder, the training windows in
 * their order (WindowCursor's starts, int64) and the fixed validation windows. Every stdout line of
 * the worker is checked (protocol/torchWorker.ts) before it becomes an event; a line that is not one
 * fails the run naming the worker. A stop is SIGTERM (the worker checkpoints at the next step
 * boundary); a worker that dies without finishing leaves the run resumable from its last checkpoint.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parseWorkerLine, type WorkerLine } from '../../protocol/torchWorker.js';
import { InherituneError } from '../errors.js';
import { writeFileAtomic } from '../fsAtomic.js';
import { loadModelDir, saveModelDir } from '../hfCheckpoint.js';
import { createModel } from '../models.js';
import { randomStart } from '../data/windows.js';
import { cpuDevice, distillUnsupported, type EngineCallbacks, type EngineDevices, type EngineOutcome, type EngineSettings, type EngineTask, type TrainingEngine } from './engine.js';
import { assertTorchRuntime, type PythonProbe } from './torchProbe.js';
import { accumulationSteps, type TrainData } from './trainer.js';

/** The folder holding server/torch/ (the repository root, or the installed package's). */
export function torchPackageRoot(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'server', 'torch', '__main__.py'))) return dir;
    if (path.dirname(dir) === dir) throw new InherituneError('runtime.engine', `torch: the worker's Python package (server/torch/) was not found above ${__dirname}`);
  }
}

/** The command line that runs `python -m server.torch train <job>`, under torchrun for several processes. */
export function workerCommand(s: EngineSettings, jobFile: string): string[] {
  const train = ['-m', 'server.torch', 'train', jobFile];
  if (s.nproc === 1 && s.nnodes === 1) return [s.python, ...train];
  const rdzv = s.nnodes > 1 ? [`--nnodes=${s.nnodes}`, `--node_rank=${s.nodeRank}`, '--rdzv_backend=c10d', `--rdzv_endpoint=${s.rdzvEndpoint}`] : ['--standalone', '--nnodes=1'];
  return [s.python, '-m', 'server.torch', 'launch', `--nproc_per_node=${s.nproc}`, ...rdzv, '--max_restarts=0', ...train];
}

function writeTokens(file: string, tokens: ArrayLike<number>): 'uint16' | 'uint32' {
  let max = 0;
  for (let i = 0; i < tokens.length; i++) if (tokens[i] > max) max = tokens[i];
  const dtype = max < 65536 ? 'uint16' : 'uint32';
  const out = dtype === 'uint16' ? Uint16Array.from(tokens) : Uint32Array.from(tokens);
  writeFileAtomic(file, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  return dtype;
}

export class TorchEngine implements TrainingEngine {
  readonly name = 'torch';
  private tokenDtype?: 'uint16' | 'uint32';
  private probed?: Promise<PythonProbe>;

  /** `workDir`: where the job files live (the run folder's torch/). */
  constructor(
    private readonly settings: EngineSettings,
    private readonly workDir: string,
    private readonly data: TrainData,
  ) {}

  private file(name: string): string {
    return path.join(this.workDir, name);
  }

  /** Once per run: the interpreter is probed and the settings checked. */
  private probe(): Promise<PythonProbe> {
    this.probed ??= assertTorchRuntime(this.settings);
    return this.probed;
  }

  async describe(): Promise<EngineDevices> {
    const p = await this.probe();
    const s = this.settings;
    const cuda = /^cuda(?::(\d+))?$/.exec(s.devices);
    const devices = !cuda ? [cpuDevice(`, torch ${p.torch}`)] : cuda[1] !== undefined ? [p.cudaDeviceInfo[Number(cuda[1])]] : p.cudaDeviceInfo.slice(0, Math.max(1, s.nproc));
    return { backend: `${s.devices} ${s.precision}${s.nproc > 1 || s.nnodes > 1 ? ` × ${s.nproc} processes${s.nnodes > 1 ? ` × ${s.nnodes} nodes` : ''}` : ''}`, devices: devices.filter((d) => d !== undefined) };
  }

  /** Once per run: the settings checked against the probe; the token files are written. */
  private async prepare(): Promise<'uint16' | 'uint32'> {
    if (this.tokenDtype) return this.tokenDtype;
    await this.probe();
    fs.mkdirSync(this.workDir, { recursive: true });
    const dtype = writeTokens(this.file('train.bin'), this.data.train);
    writeTokens(this.file('val.bin'), this.data.val);
    this.tokenDtype = dtype;
    return dtype;
  }

  async train(task: EngineTask, cb: EngineCallbacks): Promise<EngineOutcome> {
    if (task.distill) throw distillUnsupported(this.name);
    const tokenDtype = await this.prepare();
    const { model, train: cfg, checkpointDir } = task;
    const trainerState = path.join(checkpointDir, 'trainer.json');
    const resume = fs.existsSync(trainerState);
    const initDir = this.file(`${model.label}.init`);
    if (resume) {
      cb.onResumed?.((JSON.parse(fs.readFileSync(trainerState, 'utf8')) as { step: number }).step);
    } else {
      const start = task.weights();
      cb.onInit?.(start.tensors);
      fs.rmSync(initDir, { recursive: true, force: true });
      saveModelDir(initDir, start.config, start.tensors, { metadata: { inheritune_label: model.label } });
    }
    // The windows WindowCursor hands the tfjs trainer, in order: window i starts at randomStart(seed, i).
    const windows = cfg.steps * accumulationSteps(cfg) * cfg.microBatch;
    const starts = new BigInt64Array(windows);
    for (let i = 0; i < windows; i++) starts[i] = BigInt(randomStart(cfg.seed, i, this.data.train.length, cfg.blockSize));
    const startsFile = this.file(`${model.label}.starts.bin`);
    writeFileAtomic(startsFile, new Uint8Array(starts.buffer));
    const job = {
      format: 'inheritune-torch-job-1',
      model,
      initDir,
      checkpointDir,
      resume,
      train: cfg,
      trainTokens: this.file('train.bin'),
      valTokens: this.file('val.bin'),
      tokenDtype,
      trainStarts: startsFile,
      valStarts: this.data.valStarts,
      device: this.settings.devices,
      precision: this.settings.precision,
    };
    const jobFile = this.file(`${model.label}.job.json`);
    writeFileAtomic(jobFile, `${JSON.stringify(job)}\n`);
    cb.onStart?.();
    const end = await this.runWorker(jobFile, task, cb);
    if (end.stopped) return end;
    if (end.step !== cfg.steps) throw new InherituneError(`torch worker (${jobFile})`, `reported done at step ${end.step} of ${cfg.steps}`);
    // The final checkpoint holds the trained weights: the loop evaluates and analyses them in tfjs.
    const loaded = loadModelDir(checkpointDir);
    return { ...end, model: createModel(loaded.config, loaded.tensors) };
  }

  /** Spawns the worker and relays its lines until it exits. */
  private runWorker(jobFile: string, task: EngineTask, cb: EngineCallbacks): Promise<{ stopped: false; step: number; valLoss: number | undefined } | Extract<EngineOutcome, { stopped: true }>> {
    const [python, ...args] = workerCommand(this.settings, jobFile);
    const root = torchPackageRoot();
    const env = { ...process.env, PYTHONPATH: [root, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), PYTHONUNBUFFERED: '1' };
    // Its own process group: a terminal's Ctrl-C reaches this process, which asks the worker to stop.
    const child = spawn(python, args, { env, stdio: ['ignore', 'pipe', 'inherit'], detached: true });
    const who = `torch worker (pid ${child.pid ?? '?'})`;
    const stop = () => child.kill('SIGTERM');
    if (task.signal?.aborted) stop();
    task.signal?.addEventListener('abort', stop, { once: true });
    let last: WorkerLine | undefined;
    let step = 0;
    let bad: string | undefined;
    const lines = readline.createInterface({ input: child.stdout });
    lines.on('line', (text) => {
      if (bad !== undefined || text.trim() === '') return;
      const parsed = parseWorkerLine(text);
      if (!parsed.ok) {
        bad = parsed.error;
        // The whole process group: torchrun's ranks (or whatever the interpreter started) go too.
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
        return;
      }
      const line = parsed.line;
      last = line;
      if (line.type === 'metrics') {
        step = line.step;
        const { type: _, ...m } = line;
        cb.onStep?.(m, undefined);
      } else if (line.type === 'eval') cb.onEval?.({ step: line.step, valLoss: line.valLoss });
      else if (line.type === 'checkpoint') cb.onCheckpoint?.({ step: line.step, dir: task.checkpointDir });
    });
    return new Promise((resolve, reject) => {
      child.on('error', (e) => reject(new InherituneError('runtime.python', `cannot start the torch worker with "${python}": ${e.message}`)));
      child.on('close', (code, signal) => {
        task.signal?.removeEventListener('abort', stop);
        if (bad !== undefined) return reject(new InherituneError(who, `printed a line that is not a worker event (${bad})`));
        if (last?.type === 'done') {
          const { step: at, valLoss, interrupted } = last;
          return resolve(interrupted ? { stopped: true, step: at } : { stopped: false, step: at, valLoss: valLoss ?? undefined });
        }
        if (last?.type === 'error' && !last.crash) return reject(new InherituneError(who, last.message));
        const how = last?.type === 'error' ? last.message : signal ? `killed by ${signal}` : `exit code ${code}`;
        resolve({ stopped: true, step, reason: `the ${who} stopped (${how}) after step ${step}` });
      });
    });
  }
}
