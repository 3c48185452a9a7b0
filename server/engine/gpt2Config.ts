/**
 * GPT-2 family hyper-parameters and the exact set of tensors (HF names, HF shapes) a model holds.
 * Names carry no `transformer.` prefix; Conv1D weights are [in, out] as in HF checkpoints.
 */
export interface GPT2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** MLP hidden width; HF's `n_inner: null` means 4 * nEmbd. */
  nInner: number;
  layerNormEpsilon: number;
  /** HF GPT-2 always has biases; the paper's nanoGPT models have none. */
  bias: boolean;
  /** Attention logits additionally divided by (layer index + 1). */
  scaleAttnByInverseLayerIdx: boolean;
  /** Tied wte / lm_head (GPT-2's default). When false the model holds its own `lm_head.weight`. */
  tieWordEmbeddings: boolean;
}

export type TensorShapes = Map<string, number[]>;

/** Names and shapes of the tensors of block `i`. */
export function blockShapes(cfg: GPT2Config, i: number): TensorShapes {
  const C = cfg.nEmbd;
  const F = cfg.nInner;
  const p = `h.${i}.`;
  const shapes: TensorShapes = new Map();
  const add = (name: string, shape: number[], isBias = false) => {
    if (!isBias || cfg.bias) shapes.set(p + name, shape);
  };
  add('ln_1.weight', [C]);
  add('ln_1.bias', [C], true);
  add('attn.c_attn.weight', [C, 3 * C]);
  add('attn.c_attn.bias', [3 * C], true);
  add('attn.c_proj.weight', [C, C]);
  add('attn.c_proj.bias', [C], true);
  add('ln_2.weight', [C]);
  add('ln_2.bias', [C], true);
  add('mlp.c_fc.weight', [C, F]);
  add('mlp.c_fc.bias', [F], true);
  add('mlp.c_proj.weight', [F, C]);
  add('mlp.c_proj.bias', [C], true);
  return shapes;
}

/** Every tensor of the model, in checkpoint order. */
export function modelShapes(cfg: GPT2Config): TensorShapes {
  const shapes: TensorShapes = new Map();
  shapes.set('wte.weight', [cfg.vocabSize, cfg.nEmbd]);
  shapes.set('wpe.weight', [cfg.nPositions, cfg.nEmbd]);
  for (let i = 0; i < cfg.nLayer; i++) for (const [k, v] of blockShapes(cfg, i)) shapes.set(k, v);
  shapes.set('ln_f.weight', [cfg.nEmbd]);
  if (cfg.bias) shapes.set('ln_f.bias', [cfg.nEmbd]);
  if (!cfg.tieWordEmbeddings) shapes.set('lm_head.weight', [cfg.vocabSize, cfg.nEmbd]);
  return shapes;
}

export function parameterCount(cfg: GPT2Config): number {
  let n = 0;
  for (const shape of modelShapes(cfg).values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

/** A tensor held on the host (float32, row-major): what checkpoints read and write. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}
