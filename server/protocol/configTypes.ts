/**
 * The run config's types as the code uses them (the parsed config, resolved against its reference),
 * and what a reference model is. configSchema.ts checks at compile time that they equal the table.
 */
import type { AccumulateMode, AnalysisConvention, BackendChoice, Baseline, BlockPart, EngineName, GrowMode, MassMode, ModelFamilyName, Precision, SaveDtype, TaskName, TokenizerChoice } from './configVocabulary.js';

export interface TargetConfig {
  /** Undefined until resolved against the reference (default floor(k/2), at least 1). */
  layers?: number;
  inherit: BlockPart[];
  embeddings: boolean;
  positions: boolean;
  final_norm: boolean;
}

export interface GrowConfig {
  enabled: boolean;
  step: number;
  /** Undefined until resolved against the reference (default k). */
  max_layers?: number;
  mode: GrowMode;
  tolerance: number;
}

export interface DataConfig {
  train: string;
  val: string;
  tokenizer: TokenizerChoice;
  subset: number;
}

export interface TrainSettings {
  steps: number;
  batch_tokens: number;
  micro_batch: number;
  block_size: number;
  lr: number;
  min_lr: number;
  warmup: number;
  weight_decay: number;
  betas: [number, number];
  grad_clip: number;
  accumulate: AccumulateMode;
  eval_every: number;
  eval_windows: number;
  seed: number;
  seeds: number[];
  kd_alpha: number;
  kd_temperature: number;
}

export interface AnalysisConfig {
  every: number;
  sequences: number;
  seq_len: number;
  tau: number;
  eta: number;
  mass: MassMode;
  convention: AnalysisConvention;
}

export interface EvaluationConfig {
  tasks: TaskName[];
  limit: number;
  data_dir: string;
}

export interface RuntimeConfig {
  backend: BackendChoice;
  out_dir: string;
  checkpoint_every: number;
  save_dtype: SaveDtype;
  engine: EngineName;
  python: string;
  devices: string;
  precision: Precision;
  nproc: number;
  nnodes: number;
  node_rank: number;
  rdzv_endpoint: string;
}

/** The reference: a folder (path) or a Hub model (hub at revision); the parser lets exactly one through. */
export interface ReferenceConfig {
  path?: string;
  hub?: string;
  revision: string;
}

/** A parsed run config with every default filled, except the two that need the reference. */
export interface RunConfig {
  name: string;
  reference: ReferenceConfig;
  target: TargetConfig;
  grow: GrowConfig;
  data: DataConfig;
  train: TrainSettings;
  baselines: Baseline[];
  analysis: AnalysisConfig;
  evaluation: EvaluationConfig;
  runtime: RuntimeConfig;
}

/** A run config resolved against its reference: layers known, paths absolute. */
export interface ResolvedRunConfig extends RunConfig {
  /** path: the folder read (for a Hub model, its snapshot in the cache); commit: what hub@revision resolved to. */
  reference: ReferenceConfig & { path: string; commit?: string };
  target: TargetConfig & { layers: number };
  grow: GrowConfig & { max_layers: number };
}

/** A model's family and shape (engine: modelShapeOf() in modelFamily.ts computes it from a config). */
export interface ModelShape {
  /** One of MODEL_FAMILIES (config.json's model_type). */
  family: ModelFamilyName;
  layers: number;
  nEmbd: number;
  nHead: number;
  /** Key/value heads: below nHead is grouped-query attention (LLaMA); GPT-2: nHead. */
  nKvHead: number;
  /** MLP hidden width (GPT-2's n_inner, LLaMA's intermediate_size). */
  nInner: number;
  vocabSize: number;
  /** Context length (n_positions; LLaMA's max_position_embeddings). */
  nPositions: number;
  params: number;
}

/**
 * What a reference model directory is, for the config checks, the language server, the sidebar and
 * the run (engine: referenceInfo() in referenceInfo.ts builds it).
 */
export interface ReferenceInfo extends ModelShape {
  /** Absolute path of the model directory. */
  path: string;
  /** Bytes of the weights on disk. */
  weightBytes: number;
  /** How the weights are stored: "F32", "BF16", ... ("F32+BF16" when mixed). */
  weightDtype: string;
  /** A tokenizer.json sits in the folder (data.tokenizer: model can use it). */
  hasTokenizer: boolean;
}
