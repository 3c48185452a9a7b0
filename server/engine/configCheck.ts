/**
 * Checks of a run config against the files it names: the reference model directory, the data files,
 * and what they imply (layers, context length, vocabulary). Every issue points at the value at fault
 * in the config file (server/protocol/config.ts keeps the source ranges), so the language server
 * shows them in place and `inheritune run` lists them before any training starts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  formatIssue,
  parseRunConfig,
  pathText,
  resolveLayers,
  type ConfigIssue,
  type IssueOptions,
  type ParsedRunConfig,
  type ReferenceInfo,
  type ResolvedRunConfig,
  type RunConfig,
} from '../protocol/config.js';
import { statDataFile } from './data/binary.js';
import { getTokenizer, type Tokenizer, type TokenizerName } from './data/tokenizer.js';
import { isTextDataFile, loadTokensDetailed, TOKEN_FILE_EXTENSIONS } from './data/tokens.js';
import { InherituneError } from './errors.js';
import type { ModelConfig } from './modelFamily.js';
import { readReferenceInfo } from './referenceInfo.js';
import { cachedReference, parseHubRef } from './hub/index.js';
import { formatBytes } from '../protocol/format.js';
import { describeEstimate, estimateRun, type ResourceEstimate } from './resources.js';

/**
 * Why data.tokenizer cannot turn text into ids the reference knows (it cannot be loaded, or it has
 * more ids than the reference's vocabulary), with a tokenizer that fits when there is one: the
 * model's own tokenizer.json first. `detail` follows the key and value in the message.
 */
export function tokenizerProblem(name: TokenizerName, reference: ReferenceInfo): { detail: string; fits?: TokenizerName } | undefined {
  const candidates: TokenizerName[] = [...(reference.hasTokenizer ? (['model'] as const) : []), 'gpt2', 'bytes'];
  const vocabOf = (n: TokenizerName) => {
    try {
      return getTokenizer(n, reference.path).vocabSize;
    } catch {
      return Infinity;
    }
  };
  let tok: Tokenizer;
  try {
    tok = getTokenizer(name, reference.path);
  } catch (e) {
    return { detail: `: ${e instanceof InherituneError ? e.detail : String(e)}`, fits: candidates.find((n) => n !== name && vocabOf(n) <= reference.vocabSize) };
  }
  if (tok.vocabSize <= reference.vocabSize) return undefined;
  const fits = candidates.find((n) => vocabOf(n) <= reference.vocabSize);
  return { detail: ` has ${tok.vocabSize} ids, more than the reference's vocabulary of ${reference.vocabSize}${fits ? ` (${fits} fits)` : ''}`, fits };
}

/** The config with its layer counts resolved against a k-layer reference and its paths made absolute. */
export function resolveRunConfig(config: RunConfig, k: number, refDir: string, file: string, refCommit?: string): ResolvedRunConfig {
  const r = resolveLayers(config, k);
  return {
    ...r,
    reference: { ...r.reference, path: refDir, ...(refCommit !== undefined ? { commit: refCommit } : {}) },
    data: { ...r.data, train: resolveConfigPath(r.data.train, file), val: resolveConfigPath(r.data.val, file) },
    runtime: { ...r.runtime, out_dir: resolveConfigPath(r.runtime.out_dir, file) },
  };
}

/**
 * The refusal of a run the machine cannot hold (memory, then disk), before hours of work, at the key
 * most to blame; none when it fits. INHERITUNE_SKIP_RESOURCE_CHECK=1 skips it.
 */
export function resourceIssues(estimate: ResourceEstimate, given: (p: string[]) => boolean): { path: string[]; message: string }[] {
  if (process.env.INHERITUNE_SKIP_RESOURCE_CHECK === '1') return [];
  const out: { path: string[]; message: string }[] = [];
  const m = estimate.memory;
  if (m.total > estimate.free.memory) {
    const at = m.phase === 'training' && m.activations > m.weights ? ['train', 'micro_batch'] : given(['grow', 'max_layers']) ? ['grow', 'max_layers'] : ['target', 'layers'];
    out.push({ path: at, message: `the run needs about ${formatBytes(m.total)} of memory but ${formatBytes(estimate.free.memory)} is free: ${describeEstimate(estimate)}` });
  }
  if (estimate.free.disk !== undefined && estimate.disk.total > estimate.free.disk) {
    out.push({ path: ['runtime', 'out_dir'], message: `the run writes about ${formatBytes(estimate.disk.total)} but ${formatBytes(estimate.free.disk)} is free there: ${describeEstimate(estimate)}` });
  }
  return out;
}

export interface CheckOptions {
  /**
   * Read (and for text, tokenize) the data files to check their length and token ids. Default true;
   * false checks only existence, type and size (cheap enough for every keystroke in an editor).
   */
  readTokens?: boolean;
  /** Token cache folder for text data (default: the loader's). */
  cacheDir?: string;
  /** reference.hub already resolved (downloaded) by the caller; otherwise the Hugging Face cache is looked up, never the network. */
  hubModel?: { dir: string; commit: string };
}

/** The folder a config's reference names: reference.path, or reference.hub's snapshot in the cache. */
function referenceDirOf(ref: RunConfig['reference'], file: string, hubModel: CheckOptions['hubModel']): { dir: string; commit?: string } {
  if (ref.hub === undefined) return { dir: resolveConfigPath(ref.path ?? '', file) };
  if (hubModel) return hubModel;
  return cachedReference(parseHubRef(ref.hub, 'reference.hub', ref.revision));
}

export interface FileCheckResult {
  issues: ConfigIssue[];
  /** The config with layers resolved and paths absolute; present when the reference could be read. */
  config?: ResolvedRunConfig;
  reference?: ReferenceInfo;
  /** Memory and disk the run needs (resources.ts); present with `config`. */
  estimate?: ResourceEstimate;
}


/** A config path made absolute: relative to the config file's folder; `~/` is the home folder. */
export function resolveConfigPath(p: string, configFile: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(path.dirname(path.resolve(configFile)), p);
}

/** `reference.path (/abs/dir): detail` from an engine error about `abs`. */
function engineMessage(key: string[], abs: string, e: unknown): string {
  if (e instanceof InherituneError) return `${pathText(key)} (${e.source === abs ? abs : e.source}): ${e.detail}`;
  return `${pathText(key)} (${abs}): ${e instanceof Error ? e.message : String(e)}`;
}

/**
 * Checks `config` (from `parsed`, the parse of `file`) against the files it names. Issues carry the
 * ranges of the values at fault (or of the nearest key written, for defaults).
 */
export async function checkRunConfigFiles(config: RunConfig, parsed: ParsedRunConfig, file: string, opts: CheckOptions = {}): Promise<FileCheckResult> {
  const issues: ConfigIssue[] = [];
  const report = (p: string[], message: string, o?: IssueOptions) => issues.push(parsed.issue(p, message, o));
  const given = (p: string[]) => parsed.present(p);
  const valueText = (p: string[], v: number | string) => `${pathText(p)} (${v}${given(p) ? '' : ', the default'})`;

  // The reference model.
  const refKey = config.reference.hub !== undefined ? ['reference', 'hub'] : ['reference', 'path'];
  let refDir = '';
  let refCommit: string | undefined;
  let reference: ReferenceInfo | undefined;
  let refConfig: ModelConfig | undefined;
  try {
    ({ dir: refDir, commit: refCommit } = referenceDirOf(config.reference, file, opts.hubModel));
    const r = readReferenceInfo(refDir);
    reference = { ...r.info, path: refDir };
    refConfig = r.config;
  } catch (e) {
    report(refKey, engineMessage(refKey, refDir, e));
  }

  let resolved: ResolvedRunConfig | undefined;
  let estimate: ResourceEstimate | undefined;
  if (reference) {
    const k = reference.layers;
    const layers = config.target.layers;
    const maxLayers = config.grow.max_layers;
    if (layers !== undefined && layers > k) {
      report(['target', 'layers'], `target.layers (${layers}) exceeds the reference's ${k} layers`, { fix: { text: String(k), title: `Change to ${k}` } });
    }
    if (maxLayers !== undefined && maxLayers > k) {
      report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) exceeds the reference's ${k} layers`, { fix: { text: String(k), title: `Change to ${k}` } });
    }
    const r = resolveLayers(config, k);
    if (layers === undefined && maxLayers !== undefined && maxLayers <= k && maxLayers < r.target.layers) {
      report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) is below target.layers (${r.target.layers}, the default: half the reference's ${k} layers)`, {
        fix: { text: String(r.target.layers), title: `Change to ${r.target.layers}` },
      });
    }
    const P = reference.nPositions;
    if (config.train.block_size > P) {
      report(['train', 'block_size'], `${valueText(['train', 'block_size'], config.train.block_size)} exceeds the reference's context length of ${P} positions`, {
        fix: { text: String(P), title: `Change to ${P}` },
      });
    }
    if (config.analysis.seq_len > P) {
      report(['analysis', 'seq_len'], `${valueText(['analysis', 'seq_len'], config.analysis.seq_len)} exceeds the reference's context length of ${P} positions`, {
        fix: { text: String(P), title: `Change to ${P}` },
      });
    }
    resolved = resolveRunConfig(config, k, refDir, file, refCommit);
    if (refConfig && (layers === undefined || layers <= k) && (maxLayers === undefined || maxLayers <= k)) {
      estimate = estimateRun(resolved, refConfig);
      for (const issue of resourceIssues(estimate, given)) report(issue.path, issue.message);
    }
  }

  // The tokenizer, when some data is text.
  const trainAbs = resolveConfigPath(config.data.train, file);
  const valAbs = resolveConfigPath(config.data.val, file);
    let textVocab = reference?.vocabSize;
  if (reference && (isTextDataFile(trainAbs) || isTextDataFile(valAbs))) {
    const problem = tokenizerProblem(config.data.tokenizer, reference);
    if (problem) {
      report(['data', 'tokenizer'], `${valueText(['data', 'tokenizer'], config.data.tokenizer)}${problem.detail}`, {
        fix: problem.fits ? { text: problem.fits, title: `Change to ${problem.fits}` } : undefined,
      });
      // Every out-of-vocabulary token of the text would repeat that: text is then only checked for length.
      textVocab = undefined;
    }
  }

  // The data files.
  const window = config.train.block_size + 1;
  const analysisLen = config.analysis.every > 0 ? config.analysis.seq_len : 0;
  const dataFiles: { key: string[]; abs: string; minTokens: number; why: string }[] = [
    { key: ['data', 'train'], abs: trainAbs, minTokens: window, why: `one window of train.block_size + 1 = ${window} tokens` },
    {
      key: ['data', 'val'],
      abs: valAbs,
      minTokens: Math.max(window, analysisLen),
      why: analysisLen > window ? `one analysis window of analysis.seq_len = ${analysisLen} tokens` : `one window of train.block_size + 1 = ${window} tokens`,
    },
  ];
  for (const d of dataFiles) {
    const ext = path.extname(d.abs).toLowerCase();
    if (!(TOKEN_FILE_EXTENSIONS as readonly string[]).includes(ext)) {
      report(d.key, `${pathText(d.key)} (${d.abs}): unsupported data file type "${ext || '(no extension)'}"; supported: ${TOKEN_FILE_EXTENSIONS.join(', ')}`);
      continue;
    }
    let tokens: ArrayLike<number>;
    try {
      const st = await statDataFile(d.abs);
      if (st.size === 0) throw new InherituneError(d.abs, 'file is empty');
      if (opts.readTokens === false) {
        if (ext === '.bin' && st.size % 2 === 0 && st.size / 2 < d.minTokens) {
          throw new InherituneError(d.abs, `has ${st.size / 2} tokens; at least ${d.minTokens} are needed (${d.why})`);
        }
        if (ext === '.bin' && st.size % 2 !== 0) {
          throw new InherituneError(d.abs, `has an odd byte length (${st.size}); a .bin token file holds little-endian uint16 ids, 2 bytes each`);
        }
        continue;
      }
      const vocab = isTextDataFile(d.abs) ? textVocab : reference?.vocabSize;
      if (isTextDataFile(d.abs) && config.data.tokenizer === 'model' && textVocab === undefined) continue;
      tokens = (await loadTokensDetailed(d.abs, { tokenizer: config.data.tokenizer, modelDir: refDir, vocabSize: vocab, cacheDir: opts.cacheDir })).tokens;
      if (tokens.length < d.minTokens) throw new InherituneError(d.abs, `has ${tokens.length} tokens; at least ${d.minTokens} are needed (${d.why})`);
    } catch (e) {
      report(d.key, engineMessage(d.key, d.abs, e));
      continue;
    }
    if (d.key[1] === 'train' && config.data.subset < 1) {
      const used = Math.floor(config.data.subset * tokens.length);
      if (used < d.minTokens) {
        report(['data', 'subset'], `data.subset (${config.data.subset}) of ${tokens.length} training tokens leaves ${used}; at least ${d.minTokens} are needed (${d.why})`);
      }
    }
  }
  if (trainAbs === valAbs) {
    report(['data', 'val'], 'data.val is the same file as data.train: the validation loss will not measure generalisation', { severity: 'warning' });
  }

  // The run store.
  const outAbs = resolveConfigPath(config.runtime.out_dir, file);
  try {
    if (!fs.statSync(outAbs).isDirectory()) report(['runtime', 'out_dir'], `runtime.out_dir (${outAbs}) is a file, not a folder`);
  } catch {
    // Absent: created when the run starts.
  }

  issues.sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
  return { issues, config: resolved, reference, estimate };
}

export interface RunConfigCheck {
  /** Syntax, schema and file issues, in file order. */
  issues: ConfigIssue[];
  /** Present when the reference could be read and the schema checks passed. */
  config?: ResolvedRunConfig;
  reference?: ReferenceInfo;
  estimate?: ResourceEstimate;
  parsed: ParsedRunConfig;
}

/** Every check of a config text: the schema (always) and the files (when the schema passes). */
export async function validateRunConfig(text: string, file: string, opts: CheckOptions = {}): Promise<RunConfigCheck> {
  const parsed = parseRunConfig(text, file);
  if (!parsed.config) return { issues: parsed.issues, parsed };
  const files = await checkRunConfigFiles(parsed.config, parsed, file, opts);
  const issues = [...parsed.issues, ...files.issues].sort((a, b) => a.range.start - b.range.start || a.range.end - b.range.end);
  return { issues, config: files.config, reference: files.reference, estimate: files.estimate, parsed };
}

/**
 * Reads, parses and checks a run config before anything runs. Throws an InherituneError (source:
 * the file) listing every error as `file:line:col: message`; warnings are returned.
 */
export async function loadRunConfig(
  file: string,
  opts: CheckOptions = {},
): Promise<{ config: ResolvedRunConfig; reference: ReferenceInfo; warnings: ConfigIssue[]; estimate?: ResourceEstimate }> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InherituneError(file, code === 'ENOENT' ? 'run config not found' : `cannot read run config: ${(e as Error).message}`);
  }
  const result = await validateRunConfig(text, file, opts);
  const errors = result.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0 || !result.config || !result.reference) {
    const lines = errors.map((i) => formatIssue(file, i));
    throw new InherituneError(file, `${errors.length} error${errors.length === 1 ? '' : 's'} in the run config:\n${lines.join('\n')}`);
  }
  return { config: result.config, reference: result.reference, warnings: result.issues.filter((i) => i.severity === 'warning'), estimate: result.estimate };
}
