/**
 * The schema table of the run config (`*.inheritune.yaml`): every key, its type, default, bounds and
 * documentation. Validation (parseRunConfig.ts), hover and completion text (configText.ts) and the
 * JSON Schema (configJsonSchema.ts) all derive from it. RunConfig (configTypes.ts) is written out for
 * readability; a compile-time check below keeps it equal to the type the table implies.
 */
import { DEFAULT_REVISION, REPO_ID_PATTERN, REPO_ID_TEXT, REVISION_PATTERN, REVISION_TEXT } from './hubRef.js';
import type { ReferenceConfig, ResolvedRunConfig } from './configTypes.js';
import {
  ACCUMULATE_MODES, ANALYSIS_CONVENTIONS, BACKENDS, BASELINES, BLOCK_PARTS, ENGINES, GROW_MODES, MASS_MODES, PRECISIONS, SAVE_DTYPES, TASK_DATA_HF_CACHE, TASK_NAMES, TOKENIZERS,
} from './configVocabulary.js';
import type { Same } from './schema.js';

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
