/**
 * Inheritune's first step: a target with the reference's first n blocks. Which parts are copied is
 * configurable (the paper's sub-module ablation); everything not copied gets a fresh init of the
 * reference's family (modelFamily.ts). Block i keeps index i, which matters for
 * GPT-2's inverse-layer-index attention scaling.
 *
 * inheritFromReference builds the target in host memory (for training right away); inheritToDir
 * streams it to a model directory, reading only the copied tensors of the reference, by offset and
 * in pieces, so a multi-GB checkpoint is never held in memory.
 */
import { InherituneError } from './errors.js';
import type { HostTensor } from './familyOps.js';
import { ModelDir, writeModelDir, type TensorSink } from './hfCheckpoint.js';
import { seededRandom } from './init.js';
import { initTensorOf, isInheritedIn, shapesOf, type ModelConfig } from './modelFamily.js';
import { decodeFloat32, itemSize, type WriteDtype } from './safetensors.js';
import { BLOCK_PARTS, type BlockPart } from '../protocol/config.js';

/**
 * Block sub-modules (target.inherit, defined once in the protocol): attn and mlp weights; norms = both
 * norms of a block, or ln_1 (before attention: GPT-2's ln_1, LLaMA's input_layernorm) / ln_2 (before
 * the MLP: ln_2, post_attention_layernorm) alone.
 */
export { BLOCK_PARTS, type BlockPart };

export interface InheritOptions {
  layers: number;
  parts: BlockPart[];
  /** Token embedding (and the LM head: tied, or lm_head.weight when untied). */
  embeddings: boolean;
  /** GPT-2's learned position embedding wpe (LLaMA has none: this is ignored). */
  positions: boolean;
  finalNorm: boolean;
  /** Seed for the fresh initialisation of what is not inherited. */
  seed: number;
  /** Copy NaN and infinite weights too (by default a reference holding any is refused, naming the tensor). */
  allowNonFinite?: boolean;
}

export const DEFAULT_INHERIT: Omit<InheritOptions, 'layers'> = {
  parts: ['attn', 'mlp', 'norms'],
  embeddings: true,
  positions: true,
  finalNorm: true,
  seed: 0,
};

export interface InheritResult {
  config: ModelConfig;
  tensors: Map<string, HostTensor>;
  /** Names of the tensors copied from the reference; the rest were initialised. */
  inherited: string[];
}

/** The reference opened for blocks 0..n-1, after checking n against its layer count. */
function openReference(referenceDir: string, layers: number): ModelDir {
  const probe = ModelDir.open(referenceDir, { layers: 1 });
  probe.close();
  const k = probe.config.nLayer;
  if (!Number.isInteger(layers) || layers < 1 || layers > k) {
    throw new InherituneError('layers', `${layers} is not within 1..${k} (the reference ${referenceDir} has ${k} layers)`);
  }
  // Opened with `layers`, only the shards holding blocks 0..n-1 are checked and read.
  return ModelDir.open(referenceDir, { layers });
}

export function inheritFromReference(referenceDir: string, o: InheritOptions): InheritResult {
  const ref = openReference(referenceDir, o.layers);
  try {
    const config: ModelConfig = { ...ref.config, nLayer: o.layers };
    const rand = seededRandom(o.seed);
    const tensors = new Map<string, HostTensor>();
    const inherited: string[] = [];
    for (const [name, shape] of shapesOf(config)) {
      if (isInheritedIn(config, name, o)) {
        const data = ref.read(name);
        if (!o.allowNonFinite) assertFinite(ref, name, data, 0);
        tensors.set(name, { shape, data });
        inherited.push(name);
      } else {
        tensors.set(name, initTensorOf(config, name, shape, rand));
      }
    }
    return { config, tensors, inherited };
  } finally {
    ref.close();
  }
}

/** Bytes read and written at a time when a tensor is copied. */
const COPY_CHUNK_BYTES = 64 << 20;

/**
 * A NaN or infinite weight would make every loss NaN once copied (and training could not repair
 * it): refused, naming the tensor, its file and the first bad element. `offset`: the element index
 * of values[0] within the tensor.
 */
function assertFinite(ref: ModelDir, name: string, values: Float32Array, offset: number): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) {
      throw new InherituneError(
        ref.fileOf(name),
        `tensor "${name}" holds ${values[i]} at element ${offset + i}; the reference's weights must be finite (--allow-nonfinite copies them anyway)`,
      );
    }
  }
}

/**
 * Copies tensor `name` of `ref` into `sink` piece by piece: stored bytes as they are when the dtypes
 * agree (bit-exact), otherwise decoded to float32 and re-encoded, one piece at a time. Each piece is
 * checked for NaN and infinities unless `allowNonFinite`.
 */
export function copyTensor(ref: ModelDir, name: string, sink: TensorSink, allowNonFinite = false): void {
  const { dtype, byteLength } = ref.info(name);
  const size = itemSize(dtype);
  const step = Math.max(size, COPY_CHUNK_BYTES - (COPY_CHUNK_BYTES % size));
  for (let start = 0; start < byteLength; start += step) {
    const bytes = ref.readBytes(name, start, Math.min(step, byteLength - start));
    const values = dtype === sink.dtype && allowNonFinite ? undefined : decodeFloat32(bytes, dtype);
    if (values && !allowNonFinite) assertFinite(ref, name, values, start / size);
    if (dtype === sink.dtype) sink.writeBytes(bytes);
    else sink.writeFloat32(values ?? decodeFloat32(bytes, dtype));
  }
}

export interface InheritToDirResult {
  config: ModelConfig;
  inherited: string[];
  fresh: string[];
}

/**
 * inheritFromReference written straight to `outDir` (config.json + weights in `dtype`): the copied
 * tensors stream from the reference's files in pieces of at most 64 MiB, the fresh ones are made one
 * tensor at a time, so memory stays near one tensor whatever the model's size. The weights are the
 * same as inheritFromReference's (same seed, same order of draws).
 */
export function inheritToDir(referenceDir: string, o: InheritOptions, outDir: string, save: { dtype?: WriteDtype; metadata?: Record<string, string>; maxShardBytes?: number } = {}): InheritToDirResult {
  const ref = openReference(referenceDir, o.layers);
  try {
    const config: ModelConfig = { ...ref.config, nLayer: o.layers };
    const rand = seededRandom(o.seed);
    const inherited: string[] = [];
    const fresh: string[] = [];
    for (const name of shapesOf(config).keys()) (isInheritedIn(config, name, o) ? inherited : fresh).push(name);
    const metadata = { ...save.metadata, inheritune_inherited_from: referenceDir, inheritune_inherited: JSON.stringify(inherited) };
    writeModelDir(
      outDir,
      config,
      (sink) => {
        if (isInheritedIn(config, sink.name, o)) copyTensor(ref, sink.name, sink, o.allowNonFinite);
        else sink.writeFloat32(initTensorOf(config, sink.name, sink.shape, rand).data);
      },
      { dtype: save.dtype, metadata, maxShardBytes: save.maxShardBytes },
    );
    return { config, inherited, fresh };
  } finally {
    ref.close();
  }
}
