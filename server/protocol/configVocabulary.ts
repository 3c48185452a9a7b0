/**
 * The run config's vocabulary: the value lists its enum keys allow, shared with the engine (tests
 * check these equal the engine's lists). Pure constants: no YAML parser, no node built-ins.
 */
import { ANALYSIS_CONVENTIONS, BASELINES, ENGINES, TASK_NAMES, type AnalysisConvention, type Baseline, type EngineName, type TaskName } from './names.js';

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
export { ANALYSIS_CONVENTIONS, BASELINES, ENGINES, TASK_NAMES, type AnalysisConvention, type Baseline, type EngineName, type TaskName };
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
/** Arithmetic of the torch engine. */
export const PRECISIONS = ['fp32', 'bf16'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** Model families a reference can be (engine: one config module each, in modelFamily.ts's table). */
export const MODEL_FAMILIES = ['gpt2', 'llama', 'qwen2'] as const;
export type ModelFamilyName = (typeof MODEL_FAMILIES)[number];

/** File name suffixes of run configs. */
export const CONFIG_FILE_SUFFIXES = ['.inheritune.yaml', '.inheritune.yml'] as const;
