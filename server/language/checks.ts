/**
 * The file checks of a config (reference model, data, run store) from cached facts: the same checks
 * and messages as server/engine/configCheck.ts (what `inheritune run` says), but fed by Facts so they
 * cost nothing per keystroke, sampled for huge token files, and run on every value that is valid even
 * while other parts of the file have errors (configCheck needs a fully valid config).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveConfigPath, resolveRunConfig, resourceIssues, tokenizerProblem } from '../engine/configCheck.js';
import { estimateRun, type ResourceEstimate } from '../engine/resources.js';
import { InherituneError } from '../engine/errors.js';
import { isTextDataFile, TOKEN_FILE_EXTENSIONS } from '../engine/data/tokens.js';
import { defaultTargetLayers, pathText, specAt, type ConfigIssue, type FieldSpec, type IssueOptions, type ParsedRunConfig } from '../protocol/config.js';
import { firstOutOfVocab, isTokenizerName, type DataReading, type Facts, type ReferenceFact } from './facts.js';


/** The valid value at `p`: as written, or the default when not written; undefined when invalid (or no default). */
export function configValue(parsed: ParsedRunConfig, p: readonly string[]): unknown {
  const spec = specAt(p);
  if (!spec) return undefined;
  if (!parsed.present(p)) return spec.default;
  let node: unknown;
  try {
    node = parsed.document.getIn(p, true);
  } catch {
    return undefined;
  }
  const v = node !== null && typeof node === 'object' && 'value' in node ? (node as { value: unknown }).value : undefined;
  return validScalar(v, spec) ? v : undefined;
}

function validScalar(v: unknown, s: FieldSpec): boolean {
  switch (s.type) {
    case 'int':
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v)) return false;
      if (s.type === 'int' && !Number.isInteger(v)) return false;
      if (s.min !== undefined && (s.exclusiveMin ? v <= s.min : v < s.min)) return false;
      if (s.max !== undefined && (s.exclusiveMax ? v >= s.max : v > s.max)) return false;
      return true;
    }
    case 'bool':
      return typeof v === 'boolean';
    case 'string':
    case 'path':
      return typeof v === 'string' && v.trim() !== '';
    case 'enum':
      return typeof v === 'string' && (s.values ?? []).includes(v);
    default:
      return false;
  }
}

const num = (parsed: ParsedRunConfig, ...p: string[]): number | undefined => {
  const v = configValue(parsed, p);
  return typeof v === 'number' ? v : undefined;
};
const str = (parsed: ParsedRunConfig, ...p: string[]): string | undefined => {
  const v = configValue(parsed, p);
  return typeof v === 'string' ? v : undefined;
};

/** The config's values the file checks, hints and lenses use (undefined: invalid or not written without default). */
export interface ConfigValues {
  referenceDir?: string;
  layers?: number;
  maxLayers?: number;
  growStep?: number;
  steps?: number;
  batchTokens?: number;
  microBatch?: number;
  blockSize?: number;
  seqLen?: number;
  analysisEvery?: number;
  sequences?: number;
  tau?: number;
  eta?: number;
  mass?: 'sorted' | 'prefix';
  /** data.tokenizer as written (gpt2, bytes, or a name only the engine's newer tokenizers know). */
  tokenizer?: string;
  subset?: number;
  train?: string;
  val?: string;
  outDir?: string;
}

/** The values of `parsed` with paths made absolute (relative to `file`'s folder). */
export function configValues(parsed: ParsedRunConfig, file: string): ConfigValues {
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolveConfigPath(p, file));
  return {
    referenceDir: abs(str(parsed, 'reference', 'path')),
    layers: num(parsed, 'target', 'layers'),
    maxLayers: num(parsed, 'grow', 'max_layers'),
    growStep: num(parsed, 'grow', 'step'),
    steps: num(parsed, 'train', 'steps'),
    batchTokens: num(parsed, 'train', 'batch_tokens'),
    microBatch: num(parsed, 'train', 'micro_batch'),
    blockSize: num(parsed, 'train', 'block_size'),
    seqLen: num(parsed, 'analysis', 'seq_len'),
    analysisEvery: num(parsed, 'analysis', 'every'),
    sequences: num(parsed, 'analysis', 'sequences'),
    tau: num(parsed, 'analysis', 'tau'),
    eta: num(parsed, 'analysis', 'eta'),
    mass: str(parsed, 'analysis', 'mass') as ConfigValues['mass'],
    tokenizer: str(parsed, 'data', 'tokenizer'),
    subset: num(parsed, 'data', 'subset'),
    train: abs(str(parsed, 'data', 'train')),
    val: abs(str(parsed, 'data', 'val')),
    outDir: abs(str(parsed, 'runtime', 'out_dir')),
  };
}

/** `reference.path (/abs/dir): detail` from an engine error about `abs` (as configCheck words it). */
export function engineMessage(key: string[], abs: string, e: Error): string {
  if (e instanceof InherituneError) return `${pathText(key)} (${e.source === abs ? abs : e.source}): ${e.detail}`;
  return `${pathText(key)} (${abs}): ${e.message}`;
}

/** How the checks read the data file `file` of a config: with its tokenizer (the reference's own for `model`). */
export function dataReading(v: ConfigValues, file: string): DataReading {
  const tokenizer = v.tokenizer ?? 'gpt2';
  return { file, tokenizer, ...(tokenizer === 'model' && v.referenceDir !== undefined ? { modelDir: v.referenceDir } : {}) };
}

/** What the file checks of one config read: the debounced pass brings these facts up to date. */
export interface FileNeeds {
  references: string[];
  data: DataReading[];
}

export interface FileCheck {
  issues: ConfigIssue[];
  needs: FileNeeds;
  /** Facts not read yet: the checks that need them were skipped. */
  pending: boolean;
  /** Memory and disk the run will need, once the config is valid and its reference read. */
  estimate?: ResourceEstimate;
  reference?: ReferenceFact;
}

/** The file checks of `parsed` (the text of `file`) against the cached facts. */
export function checkFiles(parsed: ParsedRunConfig, file: string, facts: Facts): FileCheck {
  const issues: ConfigIssue[] = [];
  const needs: FileNeeds = { references: [], data: [] };
  let pending = false;
  const report = (p: string[], message: string, o?: IssueOptions) => issues.push(parsed.issue(p, message, o));
  const given = (p: string[]) => parsed.present(p);
  const valueText = (p: string[], v: number | string) => `${pathText(p)} (${v}${given(p) ? '' : ', the default'})`;
  const v = configValues(parsed, file);

  // The reference model.
  let fact: ReferenceFact | undefined;
  if (v.referenceDir !== undefined) {
    needs.references.push(v.referenceDir);
    fact = facts.reference(v.referenceDir);
    if (!fact) pending = true;
    else if (!fact.ok) report(['reference', 'path'], engineMessage(['reference', 'path'], v.referenceDir, fact.error));
  }
  const reference = fact?.ok ? fact.info : undefined;
  let estimate: ResourceEstimate | undefined;
  if (reference) {
    const k = reference.layers;
    const { layers, maxLayers } = v;
    if (layers !== undefined && layers > k) {
      report(['target', 'layers'], `target.layers (${layers}) exceeds the reference's ${k} layers`, { fix: { text: String(k), title: `Change to ${k}` } });
    }
    if (maxLayers !== undefined && maxLayers > k) {
      report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) exceeds the reference's ${k} layers`, { fix: { text: String(k), title: `Change to ${k}` } });
    }
    const defaultLayers = defaultTargetLayers(k);
    if (!given(['target', 'layers']) && maxLayers !== undefined && maxLayers <= k && maxLayers < defaultLayers) {
      report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) is below target.layers (${defaultLayers}, the default: half the reference's ${k} layers)`, {
        fix: { text: String(defaultLayers), title: `Change to ${defaultLayers}` },
      });
    }
    const P = reference.nPositions;
    if (v.blockSize !== undefined && v.blockSize > P) {
      report(['train', 'block_size'], `${valueText(['train', 'block_size'], v.blockSize)} exceeds the reference's context length of ${P} positions`, {
        fix: { text: String(P), title: `Change to ${P}` },
      });
    }
    if (v.seqLen !== undefined && v.seqLen > P) {
      report(['analysis', 'seq_len'], `${valueText(['analysis', 'seq_len'], v.seqLen)} exceeds the reference's context length of ${P} positions`, {
        fix: { text: String(P), title: `Change to ${P}` },
      });
    }
    // Memory and disk, once the whole config is valid and its layers fit the reference.
    const c = parsed.config;
    if (c && fact?.ok && v.referenceDir !== undefined && (c.target.layers ?? 0) <= k && (c.grow.max_layers ?? 0) <= k) {
      estimate = estimateRun(resolveRunConfig(c, k, v.referenceDir, file), fact.config);
      for (const issue of resourceIssues(estimate, given)) report(issue.path, issue.message);
    }
  }

  // The tokenizer, when some data is text.
    let textVocab = reference?.vocabSize;
  const tokenizer = v.tokenizer !== undefined && isTokenizerName(v.tokenizer) ? v.tokenizer : undefined;
  if (reference && tokenizer && ((v.train && isTextDataFile(v.train)) || (v.val && isTextDataFile(v.val)))) {
    const problem = tokenizerProblem(tokenizer, reference);
    if (problem) {
      report(['data', 'tokenizer'], `${valueText(['data', 'tokenizer'], tokenizer)}${problem.detail}`, {
        fix: problem.fits ? { text: problem.fits, title: `Change to ${problem.fits}` } : undefined,
      });
      textVocab = undefined;
    }
  }

  // The data files.
  const window = v.blockSize !== undefined ? v.blockSize + 1 : undefined;
  const analysisLen = v.analysisEvery !== undefined && v.analysisEvery > 0 ? v.seqLen : 0;
  const dataFiles: { key: string[]; abs: string | undefined; minTokens?: number; why: string }[] = [
    { key: ['data', 'train'], abs: v.train, minTokens: window, why: `one window of train.block_size + 1 = ${window} tokens` },
    {
      key: ['data', 'val'],
      abs: v.val,
      minTokens: window === undefined || analysisLen === undefined ? undefined : Math.max(window, analysisLen),
      why: analysisLen !== undefined && window !== undefined && analysisLen > window
        ? `one analysis window of analysis.seq_len = ${analysisLen} tokens`
        : `one window of train.block_size + 1 = ${window} tokens`,
    },
  ];
  for (const d of dataFiles) {
    if (d.abs === undefined) continue;
    const ext = path.extname(d.abs).toLowerCase();
    if (!(TOKEN_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
      report(d.key, `${pathText(d.key)} (${d.abs}): unsupported data file type "${ext || '(no extension)'}"; supported: ${TOKEN_FILE_EXTENSIONS.join(', ')}`);
      continue;
    }
    if (isTextDataFile(d.abs) && (!v.tokenizer || (v.tokenizer === 'model' && textVocab === undefined))) continue;
    const reading = dataReading(v, d.abs);
    needs.data.push(reading);
    const f = facts.dataFile(reading);
    if (!f) {
      pending = true;
      continue;
    }
    if (f.error) {
      report(d.key, engineMessage(d.key, d.abs, f.error));
      continue;
    }
    const vocab = isTextDataFile(d.abs) ? textVocab : reference?.vocabSize;
    const oov = vocab !== undefined ? firstOutOfVocab(f, vocab) : undefined;
    if (oov && vocab !== undefined) {
      report(
        d.key,
        `${pathText(d.key)} (${d.abs}): token id ${oov.id} at token offset ${oov.offset} is outside the model's vocabulary of ${vocab} ids (was the file made with another tokenizer?)`,
      );
      continue;
    }
    if (f.tokens === undefined) continue;
    if (d.minTokens !== undefined && f.tokens < d.minTokens) {
      report(d.key, `${pathText(d.key)} (${d.abs}): has ${f.tokens} tokens; at least ${d.minTokens} are needed (${d.why})`);
      continue;
    }
    if (d.key[1] === 'train' && v.subset !== undefined && v.subset < 1 && d.minTokens !== undefined) {
      const used = Math.floor(v.subset * f.tokens);
      if (used < d.minTokens) {
        report(['data', 'subset'], `data.subset (${v.subset}) of ${f.tokens} training tokens leaves ${used}; at least ${d.minTokens} are needed (${d.why})`);
      }
    }
  }
  if (v.train !== undefined && v.train === v.val) {
    report(['data', 'val'], 'data.val is the same file as data.train: the validation loss will not measure generalisation', { severity: 'warning' });
  }

  // The run store.
  if (v.outDir !== undefined) {
    try {
      if (!fs.statSync(v.outDir).isDirectory()) report(['runtime', 'out_dir'], `runtime.out_dir (${v.outDir}) is a file, not a folder`);
    } catch {
      // Absent: created when the run starts.
    }
  }

  issues.sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
  return { issues, needs, pending, reference: fact, estimate };
}
