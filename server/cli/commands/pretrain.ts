/**
 * `inheritune pretrain`: trains a model on a token or text file, from a fresh GPT-2 init or from an
 * existing model directory of any family (e.g. one written by `inherit`). Checkpoints let a killed run resume
 * exactly (--resume). This is how the demo's small reference model is built.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { BackendName } from '../../engine/backend.js';
import type { TokenizerName } from '../../engine/data/tokenizer.js';
import { getTokenizer } from '../../engine/data/tokenizer.js';
import { contiguousStarts } from '../../engine/data/windows.js';
import { InherituneError } from '../../engine/errors.js';
import { recoverAtomicWrites } from '../../engine/fsAtomic.js';
import type { GPT2Config } from '../../engine/gpt2Config.js';
import { loadModelDir, saveModelDir } from '../../engine/hfCheckpoint.js';
import { initWeightsOf, parameterCountOf, type HostTensor, type ModelConfig } from '../../engine/modelFamily.js';
import { createModel } from '../../engine/models.js';
import { isTrainingCheckpoint, readTrainingCheckpoint, type TrainingCheckpoint } from '../../engine/train/checkpoint.js';
import { Trainer, type TrainConfig } from '../../engine/train/trainer.js';
import { backendOption, float, int, tokenizerOption } from '../options.js';
import { startProgress } from '../progress.js';
import { trainingTensorBytes } from '../../engine/resources.js';
import { modelDirArg } from '../hubModel.js';
import { checkContext, checkOutputFolder, loadData, useBackend } from './common.js';

interface PretrainOptions extends Omit<TrainConfig, 'betas'> {
  data: string;
  val: string;
  tokenizer: TokenizerName;
  from?: string;
  layers: number;
  dModel: number;
  heads: number;
  vocab?: number;
  positions?: number;
  bias: boolean;
  scaleAttnByInverseLayerIdx?: boolean;
  evalWindows: number;
  out: string;
  checkpointDir?: string;
  resume?: boolean;
  force?: boolean;
  backend: BackendName;
  json?: boolean;
}

function freshConfig(o: PretrainOptions): GPT2Config {
  if (o.dModel % o.heads !== 0) throw new InherituneError('--d-model', `${o.dModel} is not divisible by --heads ${o.heads}`);
  return {
    family: 'gpt2',
    vocabSize: o.vocab ?? getTokenizer(o.tokenizer).vocabSize,
    nPositions: o.positions ?? o.blockSize,
    nEmbd: o.dModel,
    nLayer: o.layers,
    nHead: o.heads,
    nInner: 4 * o.dModel,
    layerNormEpsilon: 1e-5,
    bias: o.bias,
    scaleAttnByInverseLayerIdx: o.scaleAttnByInverseLayerIdx === true,
    tieWordEmbeddings: true,
  };
}

/** The model a run starts from: a checkpoint being resumed, `--from`, or a fresh GPT-2 init. */
function startingPoint(o: PretrainOptions, resumeDir: string | undefined): { config: ModelConfig; weights: Map<string, HostTensor>; checkpoint?: TrainingCheckpoint } {
  if (resumeDir !== undefined) {
    const checkpoint = readTrainingCheckpoint(resumeDir);
    return { ...checkpoint, checkpoint };
  }
  if (o.from !== undefined) {
    const { config, tensors } = loadModelDir(o.from);
    return { config, weights: tensors };
  }
  const config = freshConfig(o);
  return { config, weights: initWeightsOf(config, o.seed) };
}

export function registerPretrain(program: Command): void {
  program
    .command('pretrain')
    .description('train a model on a token or text file (a fresh GPT-2, or continuing a GPT-2, LLaMA or Qwen2 model directory)')
    .requiredOption('--data <file>', 'training tokens (.bin uint16) or text (.txt, .jsonl)')
    .requiredOption('--val <file>', 'validation tokens or text')
    .addOption(tokenizerOption())
    .option('--from <modelDir>', 'start from this model (a folder, or hf://ORG/NAME[@REV]) instead of a fresh init')
    .option('--layers <n>', 'fresh model: blocks', int(1), 4)
    .option('--d-model <C>', 'fresh model: width', int(1), 128)
    .option('--heads <H>', 'fresh model: attention heads', int(1), 4)
    .option('--vocab <V>', 'fresh model: vocabulary size (default: the tokenizer\'s)', int(1))
    .option('--positions <P>', 'fresh model: context length (default: --block-size)', int(1))
    .option('--no-bias', 'fresh model: no biases (as the paper\'s nanoGPT runs)')
    .option('--scale-attn-by-inverse-layer-idx', 'fresh model: divide attention logits by layer index + 1')
    .option('--steps <N>', 'optimizer steps', int(1), 200)
    .option('--batch-tokens <N>', 'tokens per optimizer step (gradient accumulation)', int(1), 4096)
    .option('--micro-batch <B>', 'windows per forward pass', int(1), 8)
    .option('--block-size <T>', 'tokens per window', int(1), 64)
    .option('--lr <x>', 'peak learning rate', float(0), 1e-3)
    .option('--min-lr <x>', 'final learning rate', float(0), 1e-4)
    .option('--warmup <N>', 'warm-up steps', int(0), 20)
    .option('--weight-decay <x>', 'AdamW weight decay (matrices only)', float(0), 0.1)
    .option('--grad-clip <x>', 'max global gradient norm (0: off)', float(0), 1.0)
    .option('--eval-every <N>', 'evaluate every N steps (0: only at the end)', int(0), 50)
    .option('--eval-windows <N>', 'fixed validation windows', int(1), 64)
    .option('--checkpoint-every <N>', 'checkpoint every N steps (0: only at the end or when stopped)', int(0), 100)
    .option('--seed <S>', 'seed for init and data order', int(0), 1)
    .requiredOption('--out <dir>', 'where the trained model is written (new or empty, or with --force a model inheritune wrote)')
    .option('--force', 'replace a model (and training checkpoint) that inheritune wrote earlier')
    .option('--checkpoint-dir <dir>', 'training checkpoint folder (default: <out>.checkpoint)')
    .option('--resume', 'continue from the checkpoint folder when there is one')
    .addOption(backendOption())
    .option('--json', 'print one JSON line per step/eval on stdout')
    .action(async (o: PretrainOptions) => {
      if (o.from !== undefined) o.from = await modelDirArg(o.from, '--from');
      const ckptDir = o.checkpointDir ?? `${o.out}.checkpoint`;
      // A kill while the checkpoint was being replaced leaves it under a temporary name: put it back.
      if (o.resume === true) recoverAtomicWrites(path.dirname(path.resolve(ckptDir)));
      const force = o.force === true;
      checkOutputFolder('--out', o.out, { allowed: force, hint: 'pass --force to replace it' });
      checkOutputFolder(o.checkpointDir === undefined ? '--out' : '--checkpoint-dir', ckptDir, {
        allowed: force || o.resume === true,
        hint: 'pass --resume to continue it, or --force to start over',
      });
      const resuming = o.resume === true && isTrainingCheckpoint(ckptDir);
      if (o.resume && !resuming) process.stderr.write(`no checkpoint in ${ckptDir}: starting from the beginning\n`);
      const { config, weights, checkpoint } = startingPoint(o, resuming ? ckptDir : undefined);
      checkContext('--block-size', o.blockSize, config.nPositions, resuming ? ckptDir : (o.from ?? 'set by --positions'));
      const backend = await useBackend(o.backend, false, trainingTensorBytes(config, o.microBatch, o.blockSize, o.batchTokens > o.microBatch * o.blockSize));
      const train: TrainConfig = {
        steps: o.steps,
        batchTokens: o.batchTokens,
        microBatch: o.microBatch,
        blockSize: o.blockSize,
        lr: o.lr,
        minLr: o.minLr,
        warmup: o.warmup,
        weightDecay: o.weightDecay,
        betas: [0.9, 0.95],
        gradClip: o.gradClip,
        evalEvery: o.evalEvery,
        seed: o.seed,
        checkpointEvery: o.checkpointEvery,
      };
      const modelDir = resuming ? ckptDir : o.from;
      const trainTokens = await loadData(o.data, o.tokenizer, config.vocabSize, o.blockSize + 1, modelDir);
      const valTokens = await loadData(o.val, o.tokenizer, config.vocabSize, o.blockSize + 1, modelDir);
      const valStarts = contiguousStarts(valTokens.length, o.blockSize, true, o.evalWindows);
      const model = createModel(config, weights);
      const trainer = new Trainer(model, train, { train: trainTokens, val: valTokens, valStarts });
      if (checkpoint) trainer.restore(ckptDir, checkpoint);
      process.stderr.write(
        `${resuming ? `resuming at step ${trainer.step}` : 'training'}: ${config.nLayer} layers, d ${config.nEmbd}, ${parameterCountOf(config).toLocaleString('en-US')} parameters, ${train.steps} steps of ${train.batchTokens} tokens\n`,
      );
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const bar = startProgress('train', train.steps, 'loss {loss} lr {lr} {tps} tok/s');
      bar.update(trainer.step, { loss: '-', lr: '-', tps: '-' });
      const emit = (event: Record<string, unknown>) => {
        if (o.json) process.stdout.write(`${JSON.stringify(event)}\n`);
      };
      const result = await trainer.run({
        signal: abort.signal,
        checkpointDir: ckptDir,
        callbacks: {
          onStep: (m) => {
            bar.update(m.step, { loss: m.trainLoss.toFixed(4), lr: m.lr.toExponential(2), tps: Math.round(m.tokensPerSec) });
            emit({ type: 'metrics', ...m });
          },
          onEval: (e) => emit({ type: 'eval', ...e }),
          onCheckpoint: (e) => emit({ type: 'checkpoint', ...e }),
        },
      });
      bar.stop();
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (result.interrupted) {
        process.stderr.write(`interrupted at step ${result.step}; checkpoint in ${ckptDir}; continue with --resume\n`);
        model.dispose();
        process.exit(130);
      }
      saveModelDir(o.out, config, await model.toHost(), { metadata: { inheritune_steps: String(result.step) }, maxShardBytes: Infinity });
      model.dispose();
      const summary = { type: 'done', out: o.out, step: result.step, valLoss: result.valLoss, backend };
      if (o.json) emit(summary);
      else process.stdout.write(`wrote ${o.out}: val loss ${result.valLoss?.toFixed(4)} nats after ${result.step} steps\n`);
      if (fs.existsSync(ckptDir)) process.stderr.write(`checkpoint kept in ${ckptDir}\n`);
    });
}
