/** The commented run config New Run Config writes (no `vscode` import, so tests read it too). */
import { schemaDefault } from '../server/protocol/config.js';

export function commentedConfig(o: {
  name: string;
  reference: string;
  referenceLayers: number;
  layers: number;
  train: string;
  val: string;
  tokenizer: 'gpt2' | 'bytes' | 'model';
  /** Tokens per window: at most the reference's context length. */
  blockSize: number;
  lazy?: string;
}): string {
  // Every value not chosen here is the schema's default, written out so the file documents it.
  const d = (key: string) => schemaDefault(key.split('.'));
  const microBatch = Number(d('train.micro_batch'));
  return `# Inheritune run config: derive a ${o.layers}-layer model from the first ${o.layers} of ${o.referenceLayers} reference layers,
# train it on a small slice of data and grow it by grow.step layers until it matches the reference.
# Hover a key for its documentation; "Inheritune: Start Run" runs this file.
name: ${o.name}
reference:
  path: ${o.reference}          # HF-style GPT-2, LLaMA or Qwen2 folder (config.json + safetensors)${o.lazy ? `\n  # ${o.lazy}` : ''}
target:
  layers: ${o.layers}                     # n: the reference's first n blocks are copied
  inherit: ${d('target.inherit')}   # sub-modules copied from the reference
grow:
  enabled: ${d('grow.enabled')}
  step: ${d('grow.step')}                       # layers added per growth round (the paper adds 2)
  max_layers: ${o.referenceLayers}
data:
  train: ${o.train}
  val: ${o.val}
  tokenizer: ${o.tokenizer}              # for .txt/.jsonl text; token files are read as stored
train:
  steps: ${d('train.steps')}                    # optimizer steps per growth round
  batch_tokens: ${microBatch * o.blockSize * Math.max(1, Math.round(512 / o.blockSize))}
  micro_batch: ${microBatch}
  block_size: ${o.blockSize}
  lr: ${d('train.lr')}
  eval_every: ${d('train.eval_every')}
baselines: [scratch]            # same-size model from random init, for comparison
analysis:
  every: ${d('analysis.every')}                    # attention analysis (lazy layers) every this many steps
  sequences: ${d('analysis.sequences')}
  seq_len: ${o.blockSize}
runtime:
  backend: ${d('runtime.backend')}
  out_dir: ${d('runtime.out_dir')}
`;
}
