/**
 * The run config (`*.inheritune.yaml`): the ONE definition of its schema, shared by `inheritune run`,
 * the language server (completion, hover, diagnostics, quick fixes), the sidebar and the generated
 * JSON Schema. Everything derives from the declarative table CONFIG_SCHEMA below: validation,
 * defaults, hover docs, completions and toJsonSchema(). RunConfig (the resolved type) is written out
 * for readability; a compile-time check below keeps it equal to the type the table implies.
 *
 * Pure: no tfjs, no node built-ins (the webview imports it). Checks against files (the reference
 * model, the data) live in server/engine/configCheck.ts.
 */
import { isAlias, isMap, isScalar, isSeq, Lexer, LineCounter, parseDocument, Parser, type Document, type Node as YNode, type Scalar, type YAMLMap } from 'yaml';
import { DEFAULT_REVISION, REPO_ID_PATTERN, REPO_ID_TEXT, REVISION_PATTERN, REVISION_TEXT } from './hubRef.js';
import { ANALYSIS_CONVENTIONS, BASELINES, ENGINES, TASK_NAMES, type AnalysisConvention, type Baseline, type EngineName, type TaskName } from './names.js';
import type { Same } from './schema.js';

// ---------------------------------------------------------------------------------------------
// Vocabulary shared with the engine (tests check these equal the engine's lists).

/** Block sub-modules that can be inherited (engine: BLOCK_PARTS in server/engine/inherit.ts). */
export const BLOCK_PARTS = ['attn', 'mlp', 'norms', 'ln_1', 'ln_2'] as const;
export type BlockPart = (typeof BLOCK_PARTS)[number];
/** Tokenizers for text data (engine: TOKENIZER_NAMES). `model`: the tokenizer.json in the reference's folder. */
export const TOKENIZERS = ['gpt2', 'bytes', 'model'] as const;
export type TokenizerChoice = (typeof TOKENIZERS)[number];
/** tfjs backends (engine: BACKEND_NAMES). */
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu', 'webgpu'] as const;
export type BackendChoice = (typeof BACKENDS)[number];
/** How a training process's log names the GPU adapter it runs on (the extension shows what follows). */
export const WEBGPU_ADAPTER_LINE = 'webgpu adapter: ';
export const GROW_MODES = ['restart', 'continue'] as const;
export type GrowMode = (typeof GROW_MODES)[number];
// Named in run events too (names.ts: events.ts imports them without the YAML parser).
export { ANALYSIS_CONVENTIONS, BASELINES, TASK_NAMES, type AnalysisConvention, type Baseline, type TaskName };
export const MASS_MODES = ['sorted', 'prefix'] as const;
export type MassMode = (typeof MASS_MODES)[number];
/** How micro-batch gradients combine under accumulation: averaged (standard) or summed (the authors' code). */
export const ACCUMULATE_MODES = ['mean', 'sum'] as const;
export type AccumulateMode = (typeof ACCUMULATE_MODES)[number];
/** evaluation.data_dir's value for "the datasets in the Hugging Face cache". */
export const TASK_DATA_HF_CACHE = 'hf-cache';
/** Precisions a derived model can be saved in (engine: SAVE_DTYPES in hfCheckpoint.ts). */
export const SAVE_DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type SaveDtype = (typeof SAVE_DTYPES)[number];
export { ENGINES, type EngineName };
/** Arithmetic of the torch engine. */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** Model families a reference can be (engine: one config module each, in modelFamily.ts's table). */
export const MODEL_FAMILIES = ['gpt2', 'llama', 'qwen2'] as const;
export type ModelFamilyName = (typeof MODEL_FAMILIES)[number];

/** File name suffixes of run configs. */
export const CONFIG_FILE_SUFFIXES = ['.inheritune.yaml', '.inheritune.yml'] as const;

// ---------------------------------------------------------------------------------------------
// The schema table

export type FieldType = 'int' | 'number' | 'bool' | 'string' | 'enum' | 'path' | 'list' | 'object';

export interface FieldSpec {
  readonly type: FieldType;
  /** One or two sentences: hover text, completion detail, JSON Schema description. */
  readonly doc: string;
  /** Value used when the key is absent. Undefined: required, or resolved later (see defaultText). */
  readonly default?: unknown;
  /** Words for a default that depends on the reference model (shown instead of `default`). */
  readonly defaultText?: string;
  readonly required?: boolean;
  /** Bounds for int/number; exclusive when the flag is set. */
  readonly min?: number;
  readonly max?: number;
  readonly exclusiveMin?: boolean;
  readonly exclusiveMax?: boolean;
  /** Allowed values (type enum). */
  readonly values?: readonly string[];
  /** One line per enum value, for completion and hover. */
  readonly valueDocs?: Readonly<Record<string, string>>;
  /** Item spec (type list). */
  readonly items?: FieldSpec;
  readonly minItems?: number;
  readonly maxItems?: number;
  /** Repeated items are reported (as a warning). */
  readonly unique?: boolean;
  /** Keys (type object). */
  readonly fields?: Readonly<Record<string, FieldSpec>>;
  /** Regular expression (string) a string must match, and words that say what it means. */
  readonly pattern?: string;
  readonly patternText?: string;
}

const NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

const SCHEMA = {
  type: 'object',
  doc: 'An Inheritune run: derive a small model from the first layers of a reference model, train it, and grow it until it matches the reference.',
  fields: {
    name: {
      type: 'string',
      doc: 'Name of the run; it names the run folder under runtime.out_dir. Default: the config file name without ".inheritune.yaml".',
      defaultText: 'the file name',
      pattern: NAME_PATTERN,
      patternText: 'letters, digits, ".", "_" and "-", starting with a letter or digit',
    },
    reference: {
      type: 'object',
      doc: 'The pre-trained reference model whose first layers are inherited: a model folder (path) or a Hugging Face Hub model (hub), exactly one.',
      required: true,
      fields: {
        path: {
          type: 'path',
          doc: 'HF-style model directory, GPT-2, LLaMA or Qwen2 family (config.json + model.safetensors, or a sharded index), relative to this file.',
        },
        hub: {
          type: 'string',
          doc: 'A model on the Hugging Face Hub, ORG/NAME (e.g. openai-community/gpt2): taken from the Hugging Face cache, or downloaded into it (safetensors weights, config, tokenizer) when the run starts.',
          pattern: REPO_ID_PATTERN,
          patternText: REPO_ID_TEXT,
        },
        revision: {
          type: 'string',
          doc: 'Branch, tag or commit of reference.hub; the run records the commit it resolved to, and a resumed run uses that commit.',
          default: DEFAULT_REVISION,
          pattern: REVISION_PATTERN,
          patternText: REVISION_TEXT,
        },
      },
    },
    target: {
      type: 'object',
      doc: 'The derived (target) model: how many of the reference blocks it starts with and which parts are copied.',
      fields: {
        layers: {
          type: 'int',
          doc: "Number of blocks n of the target: the reference's blocks 0..n-1 are copied. Default: half the reference's layers (floor(k/2), at least 1).",
          defaultText: "half the reference's layers",
          min: 1,
        },
        inherit: {
          type: 'list',
          doc: 'Sub-modules of blocks 0..n-1 copied from the reference; the rest is freshly initialised (the paper\'s ablation: [attn], [mlp], [attn, mlp]).',
          default: ['attn', 'mlp', 'norms'],
          unique: true,
          items: {
            type: 'enum',
            doc: 'A block sub-module.',
            values: BLOCK_PARTS,
            valueDocs: {
              attn: 'attention weights (c_attn, c_proj)',
              mlp: 'MLP weights (c_fc, c_proj)',
              norms: 'both LayerNorms of the block (ln_1, ln_2)',
              ln_1: 'the LayerNorm before attention only',
              ln_2: 'the LayerNorm before the MLP only',
            },
          },
        },
        embeddings: { type: 'bool', doc: 'Copy the token embedding and the LM head (tied to it, or lm_head when untied).', default: true },
        positions: { type: 'bool', doc: 'Copy the learned position embedding (wpe).', default: true },
        final_norm: { type: 'bool', doc: 'Copy the final LayerNorm (ln_f).', default: true },
      },
    },
    grow: {
      type: 'object',
      doc: "Growth: while the target's validation loss is worse than the reference's, add layers and train again.",
      fields: {
        enabled: { type: 'bool', doc: 'Grow the target until it matches the reference (or reaches max_layers); false trains the first target only.', default: true },
        step: { type: 'int', doc: 'Layers added per growth round (the paper adds 2).', default: 2, min: 1 },
        max_layers: {
          type: 'int',
          doc: "Largest target tried. Default: the reference's layers.",
          defaultText: "the reference's layers",
          min: 1,
        },
        mode: {
          type: 'enum',
          doc: 'How a grown target starts: restart copies the reference\'s first n blocks again (the paper); continue keeps the trained blocks and appends the next reference blocks.',
          default: 'restart',
          values: GROW_MODES,
          valueDocs: {
            restart: "start again from the reference's first n blocks (paper)",
            continue: 'keep the trained blocks, append reference blocks n, n+1, ...',
          },
        },
        tolerance: {
          type: 'number',
          doc: "The target matches when its validation loss is at most the reference's plus this many nats (negative: it must beat the reference by that margin).",
          default: 0.0,
        },
      },
    },
    data: {
      type: 'object',
      doc: 'Training and validation data.',
      required: true,
      fields: {
        train: {
          type: 'path',
          doc: 'Training data: a token file (.bin raw uint16, .npy uint16) or text (.txt, .jsonl with {"text": ...}), relative to this file.',
          required: true,
        },
        val: {
          type: 'path',
          doc: 'Validation data (same formats); target and reference are evaluated on the same fixed windows of it.',
          required: true,
        },
        tokenizer: {
          type: 'enum',
          doc: 'Tokenizer for text files (.txt, .jsonl); token files are read as stored.',
          default: 'gpt2',
          values: TOKENIZERS,
          valueDocs: {
            gpt2: 'GPT-2 BPE, 50257 ids (EOT 50256)',
            bytes: 'UTF-8 bytes, 257 ids (EOT 256)',
            model: "the reference folder's tokenizer.json (e.g. LLaMA's SentencePiece); documents get its BOS and end with its EOS",
          },
        },
        subset: {
          type: 'number',
          doc: 'Fraction of the training tokens used (the low-data regime); 1 uses them all.',
          default: 1.0,
          min: 0,
          exclusiveMin: true,
          max: 1,
        },
      },
    },
    train: {
      type: 'object',
      doc: 'Training of each target: AdamW with linear warm-up and cosine decay.',
      fields: {
        steps: { type: 'int', doc: 'Optimizer steps per target (per growth round).', default: 200, min: 1, max: 1e9 },
        batch_tokens: {
          type: 'int',
          doc: 'Tokens per optimizer step; a multiple of micro_batch * block_size (the rest is gradient accumulation).',
          default: 4096,
          min: 1,
        },
        micro_batch: { type: 'int', doc: 'Windows per forward pass.', default: 8, min: 1 },
        block_size: { type: 'int', doc: "Tokens per training window; at most the reference's context length (n_positions).", default: 64, min: 1 },
        lr: { type: 'number', doc: 'Peak learning rate, reached after warm-up.', default: 1.0e-3, min: 0, exclusiveMin: true },
        min_lr: { type: 'number', doc: 'Learning rate at the end of the cosine decay; at most lr.', default: 1.0e-4, min: 0 },
        warmup: { type: 'int', doc: 'Linear warm-up steps; at most steps.', default: 20, min: 0 },
        weight_decay: { type: 'number', doc: 'AdamW weight decay (on matrices only).', default: 0.1, min: 0 },
        betas: {
          type: 'list',
          doc: 'AdamW betas [beta1, beta2], each in [0, 1).',
          default: [0.9, 0.95],
          minItems: 2,
          maxItems: 2,
          items: { type: 'number', doc: 'An AdamW beta.', min: 0, max: 1, exclusiveMax: true },
        },
        grad_clip: { type: 'number', doc: 'Largest global gradient norm; 0 turns clipping off.', default: 1.0, min: 0 },
        accumulate: {
          type: 'enum',
          doc: 'How the gradients of the micro-batches of one step combine: averaged, or summed as the authors\' code does (which changes what grad_clip sees).',
          default: 'mean',
          values: ACCUMULATE_MODES,
          valueDocs: { mean: 'average over micro-batches (standard)', sum: 'sum over micro-batches (the authors\' code)' },
        },
        eval_every: { type: 'int', doc: 'Evaluate validation loss every this many steps; 0 evaluates only at the end.', default: 50, min: 0 },
        eval_windows: {
          type: 'int',
          doc: 'Fixed validation windows of block_size tokens, the same for every evaluation and model (contiguous from the start of data.val, at most as many as it holds); the paired test against the reference is over these windows.',
          default: 256,
          min: 1,
        },
        seed: { type: 'int', doc: 'Seed for initialisation and data order (32 bits).', default: 1, min: 0, max: 2 ** 32 - 1 },
        seeds: {
          type: 'list',
          doc: 'Train every model once per seed (e.g. [1, 2, 3]) and report the mean with a 95% confidence interval; [] trains once with train.seed.',
          default: [],
          unique: true,
          items: { type: 'int', doc: 'A seed (32 bits).', min: 0, max: 2 ** 32 - 1 },
        },
        kd_alpha: {
          type: 'number',
          doc: 'The kd baseline: weight of the distillation term; the loss is alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * cross-entropy.',
          default: 0.6,
          min: 0,
          max: 1,
        },
        kd_temperature: { type: 'number', doc: 'The kd baseline: softmax temperature T of teacher and student logits in the distillation term.', default: 1.0, min: 0, exclusiveMin: true },
      },
    },
    baselines: {
      type: 'list',
      doc: 'Models trained for comparison with the same data and steps (per seed): scratch, scratch_2x, stacking, hybrid_stacking, half_width, kd, full_scratch; [] for none.',
      default: ['scratch', 'scratch_2x'],
      unique: true,
      items: {
        type: 'enum',
        doc: 'A baseline.',
        values: BASELINES,
        valueDocs: {
          scratch: 'same size, random init, same steps',
          scratch_2x: 'same size, random init, twice the steps',
          stacking: 'Gong et al. 2019: half the layers from random init for half the steps, its trained blocks stacked twice, then the other half of the steps',
          hybrid_stacking: "the reference's first n/2 blocks placed twice (blocks i and i + n/2 both from reference block i), same steps",
          half_width: 'same layers, half the width and heads, random init, same steps',
          kd: 'same size, logit distillation from the reference (train.kd_alpha, train.kd_temperature), DistilBERT-style init (every k/n-th reference block); tfjs engine only',
          full_scratch: "the reference's size from random init, same steps",
        },
      },
    },
    analysis: {
      type: 'object',
      doc: 'Attention analysis (lazy layers): per layer MaxRank and AvgMass of the attention matrices.',
      fields: {
        every: { type: 'int', doc: 'Analyse the target every this many steps; 0 turns periodic analysis off.', default: 100, min: 0 },
        sequences: { type: 'int', doc: 'Validation windows analysed (the paper uses 100).', default: 8, min: 1 },
        seq_len: { type: 'int', doc: "Tokens per analysed window (the paper uses 100); at most the reference's n_positions.", default: 64, min: 1 },
        tau: { type: 'number', doc: 'Energy fraction for the approximate rank k*: the fewest singular values whose squares reach tau of the total.', default: 0.9, min: 0, exclusiveMin: true, max: 1 },
        eta: { type: 'number', doc: 'Mass fraction for m*: the fewest columns whose attention mass reaches eta.', default: 0.9, min: 0, exclusiveMin: true, max: 1 },
        mass: {
          type: 'enum',
          doc: 'How columns are counted for m*: sorted by mass (the paper\'s prose) or in index order (its formula).',
          default: 'sorted',
          values: MASS_MODES,
          valueDocs: { sorted: 'largest-mass columns first (paper prose)', prefix: 'columns 1..m in index order (paper formula)' },
        },
        convention: {
          type: 'enum',
          doc: "How a head's Rank is taken over the windows: the mean of per-window ranks (the paper's definition) or the rank of the mean attention matrix (the authors' notebook).",
          default: 'mean-of-ranks',
          values: ANALYSIS_CONVENTIONS,
          valueDocs: { 'mean-of-ranks': 'k* of each window, averaged (paper text)', 'rank-of-mean': 'k* of the attention averaged over windows (authors\' plots)' },
        },
      },
    },
    evaluation: {
      type: 'object',
      doc: "Zero-shot downstream tasks, evaluated at the end for the reference, each derived model and the baselines, with lm-evaluation-harness's prompts and metrics.",
      fields: {
        tasks: {
          type: 'list',
          doc: 'Tasks to evaluate; [] for none.',
          default: [],
          unique: true,
          items: {
            type: 'enum',
            doc: 'A task.',
            values: TASK_NAMES,
            valueDocs: {
              wikitext: 'wikitext-2 document perplexity (word, byte, bits per byte)',
              lambada: 'LAMBADA (OpenAI): last-word accuracy and perplexity',
              arc_easy: 'ARC-Easy: acc, acc_norm',
              piqa: 'PIQA: acc, acc_norm',
              sciq: 'SciQ: acc, acc_norm',
              hellaswag: 'HellaSwag: acc, acc_norm',
            },
          },
        },
        limit: { type: 'int', doc: 'At most this many items of each task (the first ones); 0 for every item.', default: 0, min: 0 },
        data_dir: {
          type: 'string',
          doc: `Folder holding <task>.jsonl or <task>.parquet, relative to this file; "${TASK_DATA_HF_CACHE}": the datasets in the Hugging Face cache.`,
          default: TASK_DATA_HF_CACHE,
        },
      },
    },
    runtime: {
      type: 'object',
      doc: 'Where and how the run executes.',
      fields: {
        backend: {
          type: 'enum',
          doc: 'tfjs backend; auto picks tensorflow (native) when installed, else webgpu on a GPU that a short probe finds faster, else wasm.',
          default: 'auto',
          values: BACKENDS,
          valueDocs: {
            auto: 'best installed: tensorflow, then a hardware GPU (webgpu) when faster, then wasm',
            tensorflow: '@tensorflow/tfjs-node(-gpu): native libtensorflow',
            wasm: '@tensorflow/tfjs-backend-wasm',
            cpu: 'plain JavaScript (slow)',
            webgpu: '@tensorflow/tfjs-backend-webgpu on the GPU through Dawn (the webgpu package); any adapter, a software one included',
          },
        },
        out_dir: { type: 'path', doc: 'Folder of the run store (one sub-folder per run), relative to this file.', default: '.inheritune/runs' },
        checkpoint_every: { type: 'int', doc: 'Write a resumable checkpoint every this many steps; 0 only when stopped or finished.', default: 100, min: 0 },
        save_dtype: {
          type: 'enum',
          doc: 'Precision the final derived model (model/ in the run folder) is saved in; training and checkpoints stay float32.',
          default: 'float32',
          values: SAVE_DTYPES,
          valueDocs: {
            float32: '4 bytes a weight, exactly as trained',
            float16: '2 bytes a weight, rounded to nearest even',
            bfloat16: '2 bytes a weight (LLaMA checkpoints are usually stored so), rounded to nearest even',
          },
        },
        engine: {
          type: 'enum',
          doc: 'What trains the models: the built-in tfjs engine, or the PyTorch worker (server/torch/, needs Python with torch >= 1.13). Both read and write the same checkpoints.',
          default: 'tfjs',
          values: ENGINES,
          valueDocs: { tfjs: 'the built-in engine (tfjs; runtime.backend applies)', torch: 'a PyTorch worker process (runtime.python, devices, precision, nproc)' },
        },
        python: { type: 'string', doc: 'Python interpreter with torch, for engine: torch (a command on PATH or a path).', default: 'python3' },
        devices: {
          type: 'string',
          doc: 'Device of the torch engine: cpu, cuda (every GPU, one process each with nproc), or cuda:N.',
          default: 'cpu',
          pattern: '^(cpu|cuda(:[0-9]+)?)$',
          patternText: 'cpu, cuda or cuda:N',
        },
        precision: {
          type: 'enum',
          doc: 'Arithmetic of the torch engine: fp32, or bf16 autocast (weights, optimizer and checkpoints stay float32).',
          default: 'fp32',
          values: PRECISIONS,
          valueDocs: { fp32: 'float32 throughout (equals the tfjs engine)', bf16: 'bfloat16 autocast of matrix products (GPUs with bf16 support)' },
        },
        nproc: { type: 'int', doc: 'Training processes on this node for engine: torch (torchrun --nproc_per_node); the micro-batches of a step are shared among them.', default: 1, min: 1 },
        nnodes: { type: 'int', doc: 'Nodes taking part (torchrun --nnodes); above 1 needs rdzv_endpoint and node_rank.', default: 1, min: 1 },
        node_rank: { type: 'int', doc: 'This node\'s rank among nnodes (torchrun --node_rank).', default: 0, min: 0 },
        rdzv_endpoint: { type: 'string', doc: 'host:port where the nodes meet (torchrun --rdzv_endpoint); needed when nnodes > 1.', default: '' },
      },
    },
  },
} as const satisfies FieldSpec;

/** The schema table: every key of a run config, its type, default, bounds and documentation. */
export const CONFIG_SCHEMA: FieldSpec = SCHEMA;

// ---------------------------------------------------------------------------------------------
// Types

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

// Compile-time check: the type the table implies equals ResolvedRunConfig (both ways).
type Infer<S> = S extends { type: 'int' | 'number' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'string' | 'path' }
      ? string
      : S extends { type: 'enum'; values: readonly (infer V)[] }
        ? V
        : S extends { type: 'list'; items: infer I; minItems: 2; maxItems: 2 }
          ? [Infer<I>, Infer<I>]
          : S extends { type: 'list'; items: infer I }
            ? Infer<I>[]
            : S extends { type: 'object'; fields: infer F }
              ? { -readonly [K in keyof F]: Infer<F[K]> }
              : never;
// The reference's keys are optional (exactly one of path and hub), which the table cannot say.
type InferredConfig = Infer<typeof SCHEMA>;
const tableMatchesInterface: Same<Omit<InferredConfig, 'reference'>, Omit<ResolvedRunConfig, 'reference'>> = true;
const referenceMatchesInterface: Same<InferredConfig['reference'], Required<ReferenceConfig>> = true;
void tableMatchesInterface;
void referenceMatchesInterface;

// ---------------------------------------------------------------------------------------------
// Issues

export interface ConfigIssue {
  /** Key path, e.g. ['train', 'steps'] or ['train', 'betas', '1']; [] for the whole file. */
  path: string[];
  message: string;
  severity: 'error' | 'warning';
  /** Source range (UTF-16 offsets into the text, end exclusive) of the offending key or value. */
  range: { start: number; end: number };
  /** 1-based line and column of range.start. */
  line: number;
  col: number;
  /** A quick fix: replace the text at `range` with `text`. */
  fix?: { kind: 'replace'; text: string; title: string };
}

/** File order of issues (their ranges), as every list of them is shown. */
export function byPosition(a: ConfigIssue, b: ConfigIssue): number {
  return a.range.start - b.range.start || a.range.end - b.range.end;
}

/** `file:line:col: message` (warnings: `file:line:col: warning: message`). */
export function formatIssue(file: string, issue: ConfigIssue): string {
  return `${file}:${issue.line}:${issue.col}: ${issue.severity === 'warning' ? 'warning: ' : ''}${issue.message}`;
}

/** `train.betas[1]` for ['train', 'betas', '1']. */
export function pathText(path: readonly string[]): string {
  let out = '';
  for (const p of path) out += /^\d+$/.test(p) ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Schema queries (hover, completion)

/** The spec at a key path (list indices select the item spec), or undefined for unknown keys. */
export function specAt(path: readonly string[]): FieldSpec | undefined {
  let spec: FieldSpec | undefined = CONFIG_SCHEMA;
  for (const p of path) {
    if (!spec) return undefined;
    if (spec.type === 'list') spec = /^\d+$/.test(p) ? spec.items : undefined;
    else if (spec.type === 'object') spec = Object.hasOwn(spec.fields ?? {}, p) ? spec.fields?.[p] : undefined;
    else return undefined;
  }
  return spec;
}

function boundsText(s: FieldSpec): string | undefined {
  const { min, max } = s;
  if (min !== undefined && max !== undefined) return `in ${s.exclusiveMin ? '(' : '['}${min}, ${max}${s.exclusiveMax ? ')' : ']'}`;
  if (min !== undefined) return s.exclusiveMin ? `greater than ${min}` : `at least ${min}`;
  if (max !== undefined) return s.exclusiveMax ? `less than ${max}` : `at most ${max}`;
  return undefined;
}

/** What a value must be, in words: "an integer, at least 1", "one of gpt2, bytes", ... */
export function typeText(s: FieldSpec): string {
  const bounds = boundsText(s);
  switch (s.type) {
    case 'int':
      return bounds ? `an integer ${bounds}` : 'an integer';
    case 'number':
      return bounds ? `a number ${bounds}` : 'a number';
    case 'bool':
      return 'true or false';
    case 'string':
      return s.patternText ? `a string of ${s.patternText}` : 'a string';
    case 'path':
      return 'a path (relative to the config file)';
    case 'enum':
      return `one of ${(s.values ?? []).join(', ')}`;
    case 'list': {
      const it = s.items;
      const count = s.minItems !== undefined && s.minItems === s.maxItems ? `${s.minItems} ` : '';
      if (it?.type === 'enum') return `a list of ${count}values from ${(it.values ?? []).join(', ')}`;
      if (it?.type === 'number' || it?.type === 'int') {
        const b = boundsText(it);
        return `a list of ${count}${it.type === 'int' ? 'integers' : 'numbers'}${b ? `, each ${b}` : ''}`;
      }
      return 'a list';
    }
    case 'object':
      return `a mapping with keys ${Object.keys(s.fields ?? {}).join(', ')}`;
  }
}

/** The kind of value without bounds ("an integer", "a path"), for type mismatches. */
function kindText(s: FieldSpec): string {
  switch (s.type) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'path':
      return 'a path';
    case 'object':
      return `a mapping (keys ${Object.keys(s.fields ?? {}).join(', ')})`;
    default:
      return typeText(s);
  }
}

/** The default as YAML text, or the words for a reference-dependent default. */
export function defaultText(s: FieldSpec): string | undefined {
  if (s.default !== undefined) return yamlValue(s.default);
  return s.defaultText;
}

function yamlValue(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(yamlValue).join(', ')}]` : String(v);
}

/** The schema's default at `path` as YAML text: templates and settings take defaults from here instead of typing them again. */
export function schemaDefault(path: readonly string[]): string {
  const d = specAt(path)?.default;
  if (d === undefined) throw new Error(`${pathText(path)} has no default in the config schema`);
  return yamlValue(d);
}

/** Markdown for hovering the key at `path`: name, type, default, doc. */
export function hoverText(path: readonly string[]): string | undefined {
  const s = specAt(path);
  if (!s) return undefined;
  const parts = [`**${pathText(path) || 'run config'}**: ${typeText(s)}`];
  if (s.required) parts[0] += ' (required)';
  else if (s.default !== undefined) parts[0] += `; default \`${yamlValue(s.default)}\``;
  else if (s.defaultText) parts[0] += `; default: ${s.defaultText}`;
  parts.push(s.doc);
  const values = s.type === 'list' ? s.items : s;
  if (values?.valueDocs) parts.push(Object.entries(values.valueDocs).map(([k, v]) => `- \`${k}\`: ${v}`).join('\n'));
  return parts.join('\n\n');
}

export interface KeyCompletion {
  key: string;
  /** typeText and default, one line. */
  detail: string;
  doc: string;
  /** `key: default` for scalars and lists, `key:` for mappings (their keys follow on new lines). */
  insertText: string;
  required: boolean;
}

/** Keys that can be written inside the mapping at `path`, except those in `present`. */
export function keyCompletions(path: readonly string[], present: readonly string[] = []): KeyCompletion[] {
  const s = specAt(path);
  if (!s || s.type !== 'object') return [];
  return Object.entries(s.fields ?? {})
    .filter(([k]) => !present.includes(k))
    .map(([key, f]) => {
      const d = f.default !== undefined ? yamlValue(f.default) : undefined;
      return {
        key,
        detail: typeText(f) + (f.required ? ' (required)' : d !== undefined ? `; default ${d}` : f.defaultText ? `; default ${f.defaultText}` : ''),
        doc: f.doc,
        insertText: f.type === 'object' ? `${key}:` : d !== undefined ? `${key}: ${d}` : `${key}: `,
        required: f.required === true,
      };
    });
}

/** Values offered at `path`: enum values (also for list items), true/false for booleans. */
export function valueCompletions(path: readonly string[]): { value: string; doc?: string }[] {
  let s = specAt(path);
  if (s?.type === 'list') s = s.items;
  if (!s) return [];
  if (s.type === 'bool') return [{ value: 'true' }, { value: 'false' }];
  if (s.type === 'enum') return (s.values ?? []).map((value) => ({ value, doc: s?.valueDocs?.[value] }));
  return [];
}

/**
 * The key path under `offset` in `text` (for hover): the key or value there. Undefined when the
 * offset is on no key or value (e.g. a comment or blank line).
 */
export function pathAtOffset(text: string, offset: number): { path: string[]; part: 'key' | 'value' } | undefined {
  if (nestingTooDeepAt(text) !== undefined) return undefined;
  const doc = parseDocument(text, { prettyErrors: false });
  const inside = (n: unknown): n is YNode => isNodeWithRange(n) && n.range[0] <= offset && offset <= n.range[1];
  let node: unknown = doc.contents;
  const path: string[] = [];
  for (;;) {
    if (isMap(node)) {
      const pair = node.items.find((p) => inside(p.key) || inside(p.value));
      if (!pair || !isScalar(pair.key)) return path.length ? { path, part: 'value' } : undefined;
      path.push(String(pair.key.value));
      if (inside(pair.key)) return { path, part: 'key' };
      node = pair.value;
    } else if (isSeq(node)) {
      const i = node.items.findIndex((it) => inside(it));
      if (i < 0) return { path, part: 'value' };
      path.push(String(i));
      node = node.items[i];
    } else {
      return path.length ? { path, part: 'value' } : undefined;
    }
  }
}

function isNodeWithRange(n: unknown): n is YNode & { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && Array.isArray((n as { range?: unknown }).range);
}

// ---------------------------------------------------------------------------------------------
// JSON Schema

/** A draft-07 JSON Schema of the run config (for editors' YAML support and external tools). */
export function toJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://inheritune.dev/schemas/run-config.json',
    title: 'Inheritune run config',
    ...fieldJsonSchema(CONFIG_SCHEMA),
  };
}

function fieldJsonSchema(s: FieldSpec): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let description = s.doc;
  if (s.default === undefined && s.defaultText && !description.includes('Default:')) description += ` Default: ${s.defaultText}.`;
  out.description = description;
  switch (s.type) {
    case 'int':
    case 'number':
      out.type = s.type === 'int' ? 'integer' : 'number';
      if (s.min !== undefined) out[s.exclusiveMin ? 'exclusiveMinimum' : 'minimum'] = s.min;
      if (s.max !== undefined) out[s.exclusiveMax ? 'exclusiveMaximum' : 'maximum'] = s.max;
      break;
    case 'bool':
      out.type = 'boolean';
      break;
    case 'string':
    case 'path':
      out.type = 'string';
      if (s.type === 'path') out.minLength = 1;
      if (s.pattern) out.pattern = s.pattern;
      break;
    case 'enum':
      out.type = 'string';
      out.enum = [...(s.values ?? [])];
      break;
    case 'list':
      out.type = 'array';
      if (s.items) out.items = fieldJsonSchema(s.items);
      if (s.minItems !== undefined) out.minItems = s.minItems;
      if (s.maxItems !== undefined) out.maxItems = s.maxItems;
      if (s.unique) out.uniqueItems = true;
      break;
    case 'object': {
      out.type = 'object';
      const props: Record<string, unknown> = {};
      for (const [k, f] of Object.entries(s.fields ?? {})) props[k] = fieldJsonSchema(f);
      out.properties = props;
      const required = Object.entries(s.fields ?? {}).filter(([, f]) => f.required).map(([k]) => k);
      if (required.length) out.required = required;
      out.additionalProperties = false;
      break;
    }
  }
  if (s.default !== undefined) out.default = structuredClone(s.default);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Parsing and validation

/** Damerau (optimal string alignment) edit distance. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate within a small edit distance (case and -/_ insensitive), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/-/g, '_');
  const w = norm(word);
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(w, norm(c));
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  return best !== undefined && bestD <= limit ? best : undefined;
}

interface Located {
  range: { start: number; end: number };
  line: number;
  col: number;
  /** Whether the key at the path itself is written in the file (not a default). */
  present: boolean;
}

export interface IssueOptions {
  severity?: 'error' | 'warning';
  /** Point at the key rather than the value. */
  at?: 'key' | 'value';
  fix?: { text: string; title: string };
}

export interface ParsedRunConfig {
  /** Present when there are no errors (warnings allowed): every default filled except target.layers and grow.max_layers. */
  config?: RunConfig;
  issues: ConfigIssue[];
  /** The parsed YAML document (with source ranges). */
  document: Document;
  /** Where the value (or key) at `path` is; a path not written in the file resolves to the nearest written ancestor's key. */
  locate(path: readonly string[], at?: 'key' | 'value'): Located;
  /** Whether `path` is written in the file. */
  present(path: readonly string[]): boolean;
  /**
   * The valid value at `path`: as written, or the schema's default when not written; undefined when
   * what is written is invalid (or there is no default). Checks that need other fields use it, so
   * they run on every valid value even while other parts of the file have errors.
   */
  value(path: readonly string[]): unknown;
  /** An issue located at `path` (on its value unless `at: 'key'`). */
  issue(path: readonly string[], message: string, opts?: IssueOptions): ConfigIssue;
}

const INVALID = Symbol('invalid');
type Checked = unknown; // a valid value, or INVALID

interface Entry {
  key?: Scalar;
  value: YNode | null;
}

const keyOf = (path: readonly string[]) => path.join('\u0000');

/** The run name derived from a config file name: `runs/demo.inheritune.yaml` -> `demo`. */
export function defaultRunName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? '';
  const stem = base.replace(/\.inheritune\.ya?ml$/i, '').replace(/\.ya?ml$/i, '');
  const clean = stem.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return clean === '' ? 'run' : clean;
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return String(v);
}

/**
 * Deepest nesting of YAML collections a run config may have. The schema needs 3; the YAML composer
 * recurses once per level, so a document nested thousands deep would exhaust the call stack.
 */
const MAX_YAML_DEPTH = 64;

/**
 * Offset where `text` first nests collections deeper than MAX_YAML_DEPTH, or undefined. Runs yaml's
 * own lexer and CST parser, which keep an explicit stack (no recursion), one token at a time.
 */
function nestingTooDeepAt(text: string): number | undefined {
  const parser = new Parser();
  for (const lexeme of new Lexer().lex(text)) {
    for (const _token of parser.next(lexeme)) {
      // Finished documents: composed by parseDocument once the depth is known to be sane.
    }
    // The parser's stack holds the document, every open collection and the scalar being read.
    if (parser.stack.length - 1 > MAX_YAML_DEPTH) return parser.offset;
  }
  return undefined;
}

/** Parses and checks a run config (no file access). `file` names the run by default. */
export function parseRunConfig(text: string, file: string): ParsedRunConfig {
  const lineCounter = new LineCounter();
  const deepAt = nestingTooDeepAt(text);
  // Too deep: refused below with one issue, and the text is never composed.
  const document = parseDocument(deepAt === undefined ? text : '', { lineCounter, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  const entries = new Map<string, Entry>();
  /** Valid values of the keys written in the file (for cross-field rules). */
  const values = new Map<string, unknown>();

  const position = (from: number, to: number): Pick<Located, 'range' | 'line' | 'col'> => {
    // The YAML parser reports an error at the end of the text as the character after it: clamp.
    const start = Math.min(from, text.length);
    const end = Math.min(Math.max(to, start), text.length);
    const { line, col } = lineCounter.linePos(start);
    return { range: { start, end }, line, col };
  };

  const locate = (path: readonly string[], at: 'key' | 'value' = 'value'): Located => {
    for (let n = path.length; n >= 0; n--) {
      const e = entries.get(keyOf(path.slice(0, n)));
      if (!e) continue;
      const present = n === path.length;
      const v = e.value;
      const emptyValue = !v || (isScalar(v) && v.value === null && v.range?.[0] === v.range?.[1]);
      if (present && at === 'value' && !emptyValue && v?.range) return { ...position(v.range[0], v.range[1]), present };
      if (e.key?.range) return { ...position(e.key.range[0], e.key.range[1]), present };
      if (present && v?.range && n > 0) return { ...position(v.range[0], v.range[1]), present };
    }
    return { ...position(0, 0), present: path.length === 0 };
  };

  const issue = (path: readonly string[], message: string, opts: IssueOptions = {}): ConfigIssue => {
    const loc = locate(path, opts.at);
    const out: ConfigIssue = { path: [...path], message, severity: opts.severity ?? 'error', range: loc.range, line: loc.line, col: loc.col };
    if (opts.fix && loc.present) out.fix = { kind: 'replace', ...opts.fix };
    return out;
  };
  const report = (path: readonly string[], message: string, opts?: IssueOptions) => issues.push(issue(path, message, opts));

  if (deepAt !== undefined) {
    const before = text.slice(0, deepAt);
    const line = before.split('\n').length;
    issues.push({
      path: [],
      message: `YAML: collections nested more than ${MAX_YAML_DEPTH} levels deep (a run config needs 3); the file was not read further`,
      severity: 'error',
      range: { start: deepAt, end: deepAt },
      line,
      col: deepAt - (before.lastIndexOf('\n') + 1) + 1,
    });
    return { config: undefined, issues, document, locate, present: (path) => locate(path).present, issue, value: () => undefined };
  }

  // YAML syntax (and duplicate keys).
  const yamlIssue = (e: { pos: [number, number]; message: string; code: string }, severity: 'error' | 'warning') => {
    const [start, end] = e.pos;
    // A duplicate key is reported at its first character; cover the whole key.
    const word = e.code === 'DUPLICATE_KEY' ? (/^[^\s:,{}[\]]+/.exec(text.slice(start))?.[0].length ?? 0) : 0;
    issues.push({ path: [], message: `YAML: ${e.message}`, severity, ...position(start, Math.max(start + word, end)) });
  };
  for (const e of document.errors) yamlIssue(e, 'error');
  for (const e of document.warnings) yamlIssue(e, 'warning');

  const resolve = (n: unknown): YNode | null => {
    if (isAlias(n)) return (n.resolve(document) as YNode | undefined) ?? null;
    return (n as YNode | null) ?? null;
  };

  /** The checked value of `node` against `spec`, or INVALID (after reporting why). */
  function check(node: YNode | null, spec: FieldSpec, path: string[]): Checked {
    const v = checkValue(node, spec, path);
    if (v !== INVALID) values.set(keyOf(path), v);
    return v;
  }

  function checkValue(node: YNode | null, spec: FieldSpec, path: string[]): Checked {
    const name = pathText(path);
    const jsValue = (): unknown => (isScalar(node) ? node.value : isSeq(node) ? [] : isMap(node) ? {} : null);

    if (spec.type === 'object') {
      if (node === null || (isScalar(node) && node.value === null)) return checkMap(undefined, spec, path);
      if (!isMap(node)) {
        report(path, `${name || 'the run config'} must be ${kindText(spec)}, got ${show(jsValue())}`);
        return INVALID;
      }
      return checkMap(node, spec, path);
    }

    if (spec.type === 'list') {
      if (!isSeq(node)) {
        const v = jsValue();
        const item = spec.items;
        const fixable = isScalar(node) && typeof v === 'string' && item?.type === 'enum' && item.values?.includes(v);
        report(path, `${name} must be ${typeText(spec)}, e.g. ${yamlValue(spec.default ?? [])}, got ${show(v)}`, {
          fix: fixable ? { text: `[${String(v)}]`, title: `Change to [${String(v)}]` } : undefined,
        });
        return INVALID;
      }
      const out: unknown[] = [];
      let ok = true;
      const seen = new Map<unknown, number>();
      node.items.forEach((raw, i) => {
        const child = resolve(raw);
        const p = [...path, String(i)];
        entries.set(keyOf(p), { value: child });
        const v = spec.items ? check(child, spec.items, p) : INVALID;
        if (v === INVALID) ok = false;
        else if (spec.unique && seen.has(v)) report(p, `${name} lists ${show(v)} twice`, { severity: 'warning' });
        else seen.set(v, i);
        out.push(v);
      });
      const n = node.items.length;
      if (spec.minItems !== undefined && spec.minItems === spec.maxItems && n !== spec.minItems) {
        report(path, `${name} must have exactly ${spec.minItems} items, got ${n}`);
        return INVALID;
      }
      if (spec.minItems !== undefined && n < spec.minItems) {
        report(path, `${name} must have at least ${spec.minItems} items, got ${n}`);
        return INVALID;
      }
      if (spec.maxItems !== undefined && n > spec.maxItems) {
        report(path, `${name} must have at most ${spec.maxItems} items, got ${n}`);
        return INVALID;
      }
      return ok ? out : INVALID;
    }

    // Scalars.
    if (!isScalar(node)) {
      report(path, `${name} must be ${kindText(spec)}, got ${show(jsValue())}`);
      return INVALID;
    }
    const v = node.value;
    const src = node.range ? text.slice(node.range[0], node.range[1]) : String(v);
    const fail = (extra?: IssueOptions['fix']) => {
      report(path, `${name} must be ${kindText(spec)}, got ${show(v)}`, { fix: extra });
      return INVALID;
    };
    switch (spec.type) {
      case 'int':
      case 'number': {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
          // "1_000" or "1,000" and the like: offer the number when it is one.
          const n = typeof v === 'string' ? Number(v.replace(/[_,]/g, '')) : NaN;
          const fix = typeof v === 'string' && v.trim() !== '' && Number.isFinite(n) && (spec.type === 'number' || Number.isInteger(n))
            ? { text: String(n), title: `Change to ${n}` }
            : undefined;
          if (typeof v === 'number') {
            report(path, `${name} must be a finite number, got ${src}`);
            return INVALID;
          }
          return fail(fix);
        }
        if (spec.type === 'int' && !Number.isInteger(v)) {
          report(path, `${name} must be ${kindText(spec)}, got ${src}`, { fix: { text: String(Math.round(v)), title: `Change to ${Math.round(v)}` } });
          return INVALID;
        }
        // YAML reads 1e23 as an integer; integers beyond 2^53 are not exact, so none is accepted.
        const bounded = spec.type === 'int' && spec.max === undefined ? { ...spec, max: Number.MAX_SAFE_INTEGER } : spec;
        const { min, max } = bounded;
        const low = min !== undefined && (spec.exclusiveMin ? v <= min : v < min);
        const high = max !== undefined && (spec.exclusiveMax ? v >= max : v > max);
        if (low || high) {
          const bound = low ? min : max;
          const exclusive = low ? spec.exclusiveMin : spec.exclusiveMax;
          report(path, `${name} must be ${boundsText(low ? spec : bounded)}, got ${src}`, {
            fix: bound !== undefined && !exclusive ? { text: String(bound), title: `Change to ${bound}` } : undefined,
          });
          return INVALID;
        }
        return v;
      }
      case 'bool': {
        if (typeof v === 'boolean') return v;
        const word = typeof v === 'string' ? v.toLowerCase() : '';
        const as = ['yes', 'y', 'on'].includes(word) ? 'true' : ['no', 'n', 'off'].includes(word) ? 'false' : undefined;
        return fail(as ? { text: as, title: `Change to ${as}` } : undefined);
      }
      case 'string':
      case 'path': {
        if (typeof v !== 'string') {
          const quoted = v === null ? undefined : JSON.stringify(src);
          report(path, `${name} must be ${kindText(spec)}, got ${show(v)}${quoted ? ` (quote it: ${quoted})` : ''}`, {
            fix: quoted ? { text: quoted, title: `Quote as ${quoted}` } : undefined,
          });
          return INVALID;
        }
        if (v.trim() === '') {
          report(path, `${name} must not be empty`);
          return INVALID;
        }
        if (spec.pattern && !new RegExp(spec.pattern).test(v)) {
          report(path, `${name} must consist of ${spec.patternText ?? `text matching ${spec.pattern}`}, got ${show(v)}`);
          return INVALID;
        }
        return v;
      }
      case 'enum': {
        const allowed = spec.values ?? [];
        if (typeof v === 'string' && allowed.includes(v)) return v;
        const guess = typeof v === 'string' || typeof v === 'number' ? closest(String(v), allowed) : undefined;
        report(path, `${name} must be ${typeText(spec)}, got ${show(v)}${guess ? `; did you mean "${guess}"?` : ''}`, {
          fix: guess ? { text: guess, title: `Change to "${guess}"` } : undefined,
        });
        return INVALID;
      }
    }
    return INVALID;
  }

  function checkMap(node: YAMLMap | undefined, spec: FieldSpec, path: string[]): Checked {
    const fields = spec.fields ?? {};
    const out: Record<string, unknown> = {};
    const given = new Map<string, unknown>();
    let ok = true;
    const seen = new Set<string>();
    for (const pair of node?.items ?? []) {
      const keyNode = resolve(pair.key);
      if (!isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number' && typeof keyNode.value !== 'boolean')) {
        const r = (keyNode as YNode | null)?.range ?? [0, 0];
        issues.push({ path, message: `${pathText(path) || 'the run config'}: keys must be plain names`, severity: 'error', ...position(r[0], r[1]) });
        ok = false;
        continue;
      }
      const key = String(keyNode.value);
      const p = [...path, key];
      const value = resolve(pair.value);
      if (seen.has(key)) continue; // YAML already reports the duplicate.
      seen.add(key);
      entries.set(keyOf(p), { key: keyNode, value });
      if (!Object.hasOwn(fields, key)) {
        ok = false;
        const guess = closest(key, Object.keys(fields));
        const where = path.length ? ` in ${pathText(path)}` : '';
        let hint = guess ? `; did you mean "${guess}"?` : '';
        if (!guess) {
          const elsewhere = findKeyElsewhere(key, path);
          hint = elsewhere ? `; it belongs under ${pathText(elsewhere.slice(0, -1))} (${pathText(elsewhere)})` : `; expected one of: ${Object.keys(fields).join(', ')}`;
        }
        report(p, `unknown key "${key}"${where}${hint}`, { at: 'key', fix: guess ? { text: guess, title: `Change to "${guess}"` } : undefined });
        continue;
      }
      const v = check(value, fields[key], p);
      if (v === INVALID) ok = false;
      given.set(key, v);
    }
    // Output in schema order, defaults filled.
    for (const [key, f] of Object.entries(fields)) {
      if (given.has(key)) out[key] = given.get(key);
      else if (seen.has(key)) continue;
      else if (f.required) {
        ok = false;
        report(path, `missing required key ${pathText([...path, key])} (${f.doc.split(/[.;:] /)[0].replace(/\.$/, '')})`, { at: 'key' });
      } else if (f.default !== undefined) {
        out[key] = structuredClone(f.default);
      } else if (f.type === 'object') {
        const v = checkMap(undefined, f, [...path, key]);
        if (v === INVALID) ok = false;
        out[key] = v;
      } else if (path.length === 0 && key === 'name') {
        out[key] = defaultRunName(file);
      }
    }
    return ok ? out : INVALID;
  }

  const valueAt = (path: readonly string[]): unknown => (entries.has(keyOf(path)) ? values.get(keyOf(path)) : specAt(path)?.default);

  const root = resolve(document.contents);
  entries.set(keyOf([]), { value: root });
  const checked = check(root, CONFIG_SCHEMA, []);

  crossChecks();

  function findKeyElsewhere(key: string, notUnder: string[]): string[] | undefined {
    const walk = (s: FieldSpec, p: string[]): string[] | undefined => {
      for (const [k, f] of Object.entries(s.fields ?? {})) {
        if (k === key && keyOf(p) !== keyOf(notUnder)) return [...p, k];
        if (f.type === 'object') {
          const hit = walk(f, [...p, k]);
          if (hit) return hit;
        }
      }
      return undefined;
    };
    return walk(CONFIG_SCHEMA, []);
  }

  function crossChecks(): void {
    /** The valid value at path: as written, or the default when not written; undefined when invalid. */
    const value = (...path: string[]): unknown => valueAt(path);
    const num = (...path: string[]): number | undefined => {
      const v = value(...path);
      return typeof v === 'number' ? v : undefined;
    };
    const at = (...paths: string[][]): string[] => paths.find((p) => locate(p).present) ?? paths[0];
    const fmt = (p: string[], v: number) => `${pathText(p)} (${v}${locate(p).present ? '' : ', the default'})`;

    const bt = num('train', 'batch_tokens');
    const mb = num('train', 'micro_batch');
    const bs = num('train', 'block_size');
    if (bt !== undefined && mb !== undefined && bs !== undefined) {
      const m = mb * bs;
      if (bt % m !== 0) {
        const lo = Math.floor(bt / m) * m;
        const hi = lo + m;
        const nearest = lo > 0 && bt - lo < hi - bt ? lo : hi;
        const where = at(['train', 'batch_tokens'], ['train', 'micro_batch'], ['train', 'block_size']);
        report(
          where,
          `${fmt(['train', 'batch_tokens'], bt)} must be a multiple of train.micro_batch * train.block_size = ${mb} * ${bs} = ${m}; nearest valid values: ${lo > 0 ? `${lo} or ${hi}` : hi}`,
          { fix: where[1] === 'batch_tokens' ? { text: String(nearest), title: `Change to ${nearest}` } : undefined },
        );
      }
    }
    const lr = num('train', 'lr');
    const minLr = num('train', 'min_lr');
    if (lr !== undefined && minLr !== undefined && minLr > lr) {
      report(at(['train', 'min_lr'], ['train', 'lr']), `${fmt(['train', 'min_lr'], minLr)} must not exceed ${fmt(['train', 'lr'], lr)}`);
    }
    const steps = num('train', 'steps');
    const warmup = num('train', 'warmup');
    if (steps !== undefined && warmup !== undefined && warmup > steps) {
      const where = at(['train', 'warmup'], ['train', 'steps']);
      report(where, `${fmt(['train', 'warmup'], warmup)} must not exceed ${fmt(['train', 'steps'], steps)}`, {
        fix: where[1] === 'warmup' ? { text: String(steps), title: `Change to ${steps}` } : undefined,
      });
    }
    const evalEvery = num('train', 'eval_every');
    if (steps !== undefined && evalEvery !== undefined && evalEvery > steps && locate(['train', 'eval_every']).present) {
      report(['train', 'eval_every'], `train.eval_every (${evalEvery}) is more than train.steps (${steps}): validation runs only at the end`, { severity: 'warning' });
    }
    // The reference: a folder or a Hub model, exactly one; a revision only with a Hub model.
    if (entries.has(keyOf(['reference'])) && values.has(keyOf(['reference']))) {
      const hasPath = locate(['reference', 'path']).present;
      const hasHub = locate(['reference', 'hub']).present;
      if (hasPath && hasHub) report(['reference', 'hub'], 'give reference.path (a model folder) or reference.hub (a Hub model), not both', { at: 'key' });
      else if (!hasPath && !hasHub) report(['reference'], 'missing reference.path (a model folder) or reference.hub (a Hugging Face model id ORG/NAME)', { at: 'key' });
      else if (hasPath && locate(['reference', 'revision']).present) report(['reference', 'revision'], 'reference.revision applies to reference.hub only; a folder has no revision', { at: 'key' });
    }
    const layers = num('target', 'layers');
    const maxLayers = num('grow', 'max_layers');
    if (layers !== undefined && maxLayers !== undefined && maxLayers < layers) {
      report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) must be at least target.layers (${layers})`, {
        fix: { text: String(layers), title: `Change to ${layers}` },
      });
    }
    const baselines = value('baselines');
    if (Array.isArray(baselines) && baselines.includes('kd') && value('runtime', 'engine') === 'torch') {
      report(['baselines'], 'the kd baseline (distillation from the reference) is implemented in the tfjs engine only: remove kd from baselines or set runtime.engine: tfjs');
    }
    const inherit = value('target', 'inherit');
    if (Array.isArray(inherit) && inherit.length === 0 && ['embeddings', 'positions', 'final_norm'].every((k) => value('target', k) === false)) {
      report(['target'], 'nothing is inherited (target.inherit is [] and embeddings, positions and final_norm are false): the target is a randomly initialised model', {
        severity: 'warning',
        at: 'key',
      });
    }
  }

  issues.sort(byPosition);
  const hasError = issues.some((i) => i.severity === 'error');
  return {
    config: hasError || checked === INVALID ? undefined : (checked as RunConfig),
    issues,
    document,
    locate,
    present: (path) => locate(path).present,
    value: valueAt,
    issue,
  };
}

/** Default target layers for a reference of k layers: floor(k/2), at least 1. */
export function defaultTargetLayers(k: number): number {
  return Math.max(1, Math.floor(k / 2));
}

/** Fills target.layers (floor(k/2)) and grow.max_layers (k) from the reference's k layers. */
export function resolveLayers(config: RunConfig, referenceLayers: number): Omit<ResolvedRunConfig, 'reference'> & Pick<RunConfig, 'reference'> {
  const c = structuredClone(config);
  return {
    ...c,
    target: { ...c.target, layers: c.target.layers ?? defaultTargetLayers(referenceLayers) },
    grow: { ...c.grow, max_layers: c.grow.max_layers ?? referenceLayers },
  };
}
