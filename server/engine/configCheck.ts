/**
 * The one check of a run config against the files it names: the reference model directory, the data
 * files, and what they imply (layers, context length, vocabulary, memory and disk). It reads the
 * files only through ConfigFacts (configFacts.ts): `inheritune run` and the training server read
 * them from disk first (validateRunConfig), the language server keeps them cached while you type.
 * Every issue points at the value at fault in the config file (server/protocol/config.ts keeps the
 * source ranges), so the language server shows them in place and `inheritune run` lists them as
 * file:line:col before any training starts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  byPosition,
  defaultTargetLayers,
  formatIssue,
  MASS_MODES,
  parseRunConfig,
  pathText,
  resolveLayers,
  schemaDefault,
  TASK_DATA_HF_CACHE,
  type ConfigIssue,
  type IssueOptions,
  type MassMode,
  type ParsedRunConfig,
  type ReferenceInfo,
  type ResolvedRunConfig,
  type RunConfig,
} from '../protocol/config.js';
import { FactCache, firstOutOfVocab, isTokenizerName, type ConfigFacts, type DataReading, type ReferenceFact } from './configFacts.js';
import { ANALYSIS_CONVENTIONS, type AnalysisConvention } from '../protocol/names.js';
import { getTokenizer, type Tokenizer, type TokenizerName } from './data/tokenizer.js';
import { isTextDataFile, outOfVocabDetail, TOKEN_FILE_EXTENSIONS } from './data/tokens.js';
import { InherituneError } from './errors.js';
import { cachedReference, formatHubRef, parseHubRef, type HubRef } from './hub/index.js';
import { formatBytes } from '../protocol/format.js';
import { estimateRun, resourceIssues, type ResourceEstimate } from './resources.js';
import type { EngineSettings } from './train/engine.js';
import { checkTorchSettings } from './train/torchProbe.js';

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
    evaluation: { ...r.evaluation, data_dir: r.evaluation.data_dir === TASK_DATA_HF_CACHE ? r.evaluation.data_dir : resolveConfigPath(r.evaluation.data_dir, file) },
  };
}

export interface CheckOptions {
  /**
   * Read (and for text, tokenize) the data files to check their length and token ids. Default true;
   * false reads only sizes and headers (what the training server checks before it queues a run).
   */
  readTokens?: boolean;
  /** Token cache folder for text data (default: the loader's). */
  cacheDir?: string;
  /**
   * The run store folder when it is not runtime.out_dir (`inheritune run --out`): the resolved
   * config names it, so the free-disk check and the folder check look where the run will write.
   */
  outDir?: string;
  /** reference.hub already resolved (downloaded) by the caller; otherwise the Hugging Face cache is looked up, never the network. */
  hubModel?: { dir: string; commit: string };
}

/** A config path made absolute: relative to the config file's folder; `~/` is the home folder. */
export function resolveConfigPath(p: string, configFile: string): string {
  if (p === '~' || p.startsWith('~/') || p.startsWith('~\\')) return path.join(os.homedir(), p.slice(1));
  return path.resolve(path.dirname(path.resolve(configFile)), p);
}

/** The config's values the file checks, hints and lenses use (undefined: invalid, or not written and no default). */
export interface ConfigValues {
  /** The reference folder: reference.path made absolute (reference.hub is resolved by the file checks). */
  referenceDir?: string;
  /** reference.hub and its revision, as written. */
  hub?: string;
  revision?: string;
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
  mass?: MassMode;
  convention?: AnalysisConvention;
  /** train.seed: it draws the analysis windows too. */
  seed?: number;
  /** data.tokenizer as written (gpt2, bytes, or a name only the engine's newer tokenizers know). */
  tokenizer?: string;
  subset?: number;
  train?: string;
  val?: string;
  outDir?: string;
}

/** The valid values of `parsed` with paths made absolute (relative to `file`'s folder). */
export function configValues(parsed: ParsedRunConfig, file: string): ConfigValues {
  const num = (...p: string[]) => {
    const v = parsed.value(p);
    return typeof v === 'number' ? v : undefined;
  };
  const str = (...p: string[]) => {
    const v = parsed.value(p);
    return typeof v === 'string' ? v : undefined;
  };
  const abs = (p: string | undefined) => (p === undefined ? undefined : resolveConfigPath(p, file));
  const mass = str('analysis', 'mass');
  const convention = str('analysis', 'convention');
  return {
    referenceDir: abs(str('reference', 'path')),
    hub: str('reference', 'hub'),
    revision: str('reference', 'revision'),
    layers: num('target', 'layers'),
    maxLayers: num('grow', 'max_layers'),
    growStep: num('grow', 'step'),
    steps: num('train', 'steps'),
    batchTokens: num('train', 'batch_tokens'),
    microBatch: num('train', 'micro_batch'),
    blockSize: num('train', 'block_size'),
    seqLen: num('analysis', 'seq_len'),
    analysisEvery: num('analysis', 'every'),
    sequences: num('analysis', 'sequences'),
    tau: num('analysis', 'tau'),
    eta: num('analysis', 'eta'),
    mass: MASS_MODES.find((m) => m === mass),
    convention: ANALYSIS_CONVENTIONS.find((c) => c === convention),
    seed: num('train', 'seed'),
    tokenizer: str('data', 'tokenizer'),
    subset: num('data', 'subset'),
    train: abs(str('data', 'train')),
    val: abs(str('data', 'val')),
    outDir: abs(str('runtime', 'out_dir')),
  };
}

/** The torch engine's settings as written (defaults for the rest; runtime.python: `defaultPython`, else the schema's); undefined for the tfjs engine or invalid values. */
export function torchSettings(parsed: ParsedRunConfig, defaultPython?: string): EngineSettings | undefined {
  const get = (key: string) => parsed.value(['runtime', key]);
  if (get('engine') !== 'torch') return undefined;
  const text = (key: string, fallback?: string) => {
    if (!parsed.present(['runtime', key])) return fallback ?? schemaDefault(['runtime', key]);
    const v = get(key);
    return typeof v === 'string' ? v : undefined;
  };
  const int = (key: string) => {
    if (!parsed.present(['runtime', key])) return Number(schemaDefault(['runtime', key]));
    const v = get(key);
    return typeof v === 'number' ? v : undefined;
  };
  const [python, devices, precision, rdzvEndpoint] = [text('python', defaultPython), text('devices'), text('precision'), text('rdzv_endpoint')];
  const [nproc, nnodes, nodeRank] = [int('nproc'), int('nnodes'), int('node_rank')];
  if (python === undefined || devices === undefined || rdzvEndpoint === undefined || nproc === undefined || nnodes === undefined || nodeRank === undefined) return undefined;
  if (precision !== 'fp32' && precision !== 'bf16') return undefined;
  return { name: 'torch', python, devices, precision, nproc, nnodes, nodeRank, rdzvEndpoint };
}

/** `reference.path (/abs/dir): detail` from an engine error about `abs`. */
function engineMessage(key: string[], abs: string, e: Error): string {
  if (e instanceof InherituneError) return `${pathText(key)} (${e.source === abs ? abs : e.source}): ${e.detail}`;
  return `${pathText(key)} (${abs}): ${e.message}`;
}

/** How the checks read the data file `file` of a config: with its tokenizer (the reference's own for `model`). */
export function dataReading(v: ConfigValues, file: string): DataReading {
  const tokenizer = v.tokenizer ?? 'gpt2';
  return { file, tokenizer, ...(tokenizer === 'model' && v.referenceDir !== undefined ? { modelDir: v.referenceDir } : {}) };
}

/** The facts the file checks of one config looked up (what a caller brings up to date). */
export interface FileNeeds {
  references: string[];
  data: DataReading[];
  /** Hub models the cache lacks (the language server asks the Hub about them). */
  hub: HubRef[];
  /** Python interpreters of runtime.engine torch (the language server probes them). */
  pythons: string[];
}

export interface FileCheck {
  /** File issues, in file order. */
  issues: ConfigIssue[];
  needs: FileNeeds;
  /** Facts not read yet: the checks that need them were skipped. */
  pending: boolean;
  reference?: ReferenceInfo;
  /** The config with layers resolved and paths absolute; present when the schema passed and the reference was read. */
  config?: ResolvedRunConfig;
  /** Memory and disk the run needs (resources.ts); present with `config` when its layers fit the reference. */
  estimate?: ResourceEstimate;
  /** reference.hub as found in the cache (or given by the caller): its snapshot folder and commit. */
  hubModel?: { dir: string; commit: string };
}

/** What one pass of the file checks shares: the config's values and facts, and where issues and needs go. */
class FileChecks {
  readonly issues: ConfigIssue[] = [];
  readonly needs: FileNeeds = { references: [], data: [], hub: [], pythons: [] };
  /** A fact was not read yet: the checks that need it were skipped. */
  pending = false;

  constructor(
    readonly parsed: ParsedRunConfig,
    readonly facts: ConfigFacts,
    readonly v: ConfigValues,
    /** The run store came from --out, not runtime.out_dir. */
    readonly outOption: boolean,
  ) {}

  report(p: string[], message: string, o?: IssueOptions): void {
    this.issues.push(this.parsed.issue(p, message, o));
  }

  given(p: string[]): boolean {
    return this.parsed.present(p);
  }

  valueText(p: string[], v: number | string): string {
    return `${pathText(p)} (${v}${this.given(p) ? '' : ', the default'})`;
  }
}

const changeTo = (to: number | string) => ({ text: String(to), title: `Change to ${to}` });

/** The key that names the reference: reference.hub or reference.path. */
const referenceKey = (v: ConfigValues) => (v.hub !== undefined ? ['reference', 'hub'] : ['reference', 'path']);

/** reference.hub: its snapshot in the Hugging Face cache (then v.referenceDir points there), or why not. */
function checkHubReference(c: FileChecks, given?: FileCheck['hubModel']): FileCheck['hubModel'] {
  const { v } = c;
  if (v.hub === undefined) return undefined;
  const refKey = referenceKey(v);
  let ref: HubRef | undefined;
  try {
    ref = parseHubRef(v.hub, 'reference.hub', v.revision);
    const hubModel = given ?? cachedReference(ref);
    v.referenceDir = hubModel.dir;
    return hubModel;
  } catch (e) {
    const remote = ref ? c.facts.hubRemote?.(ref) : undefined;
    if (ref) c.needs.hub.push(ref);
    if (remote?.ok) {
      // Reachable: not an error, the download lens (or the run) fetches it.
      c.report(refKey, `${pathText(refKey)} (${formatHubRef(ref as HubRef)}): not downloaded yet: ${formatBytes(remote.downloadBytes)} at commit ${remote.commit.slice(0, 12)}, fetched by the code lens "Download" or when the run starts`, { severity: 'warning' });
    } else c.report(refKey, engineMessage(refKey, v.hub, remote ? remote.error : (e as Error)));
    return undefined;
  }
}

/** The reference folder's description, when read. */
function readReference(c: FileChecks): ReferenceFact | undefined {
  const { v } = c;
  if (v.referenceDir === undefined) return undefined;
  c.needs.references.push(v.referenceDir);
  const fact = c.facts.reference(v.referenceDir);
  if (!fact) c.pending = true;
  else if (!fact.ok) c.report(referenceKey(v), engineMessage(referenceKey(v), v.referenceDir, fact.error));
  return fact;
}

/** Layers and context lengths against the reference; the resolved config and its memory and disk once they fit. */
function checkAgainstReference(c: FileChecks, fact: ReferenceFact | undefined, file: string, refCommit: string | undefined): { config?: ResolvedRunConfig; estimate?: ResourceEstimate } {
  const { v } = c;
  const { layers, maxLayers } = v;
  const k = fact?.ok ? fact.info.layers : undefined;
  // target.layers beyond the reference is the primary error; raising grow.max_layers to it would only make another.
  if (layers !== undefined && maxLayers !== undefined && maxLayers < layers) {
    c.report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) must be at least target.layers (${layers})`, { fix: k === undefined || layers <= k ? changeTo(layers) : undefined });
  }
  if (!fact?.ok || k === undefined) return {};
  // The largest target.layers every layer check accepts: the reference's layers, or grow.max_layers when that is less.
  const largest = maxLayers !== undefined && maxLayers < k ? maxLayers : k;
  if (layers !== undefined && layers > k) c.report(['target', 'layers'], `target.layers (${layers}) exceeds the reference's ${k} layers`, { fix: changeTo(largest) });
  if (maxLayers !== undefined && maxLayers > k) c.report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) exceeds the reference's ${k} layers`, { fix: changeTo(k) });
  const defaultLayers = defaultTargetLayers(k);
  if (!c.given(['target', 'layers']) && maxLayers !== undefined && maxLayers <= k && maxLayers < defaultLayers) {
    c.report(['grow', 'max_layers'], `grow.max_layers (${maxLayers}) is below target.layers (${defaultLayers}, the default: half the reference's ${k} layers)`, { fix: changeTo(defaultLayers) });
  }
  const P = fact.info.nPositions;
  if (v.blockSize !== undefined && v.blockSize > P) {
    c.report(['train', 'block_size'], `${c.valueText(['train', 'block_size'], v.blockSize)} exceeds the reference's context length of ${P} positions`, { fix: changeTo(P) });
  }
  if (v.seqLen !== undefined && v.seqLen > P) {
    c.report(['analysis', 'seq_len'], `${c.valueText(['analysis', 'seq_len'], v.seqLen)} exceeds the reference's context length of ${P} positions`, { fix: changeTo(P) });
  }
  if (!c.parsed.config || v.referenceDir === undefined) return {};
  let config = resolveRunConfig(c.parsed.config, k, v.referenceDir, file, refCommit);
  if (v.outDir !== undefined) config = { ...config, runtime: { ...config.runtime, out_dir: v.outDir } };
  if (config.target.layers > k || config.grow.max_layers > k) return { config };
  // Memory and disk, once the layers fit the reference.
  const estimate = estimateRun(config, fact.config);
  for (const issue of resourceIssues(estimate, (p) => c.given(p))) c.report(issue.path, issue.message);
  return { config, estimate };
}

/** The tokenizer, when some data is text; the vocabulary text is checked against (undefined: length only). */
function checkTokenizer(c: FileChecks, reference: ReferenceInfo | undefined): number | undefined {
  const { v } = c;
  const tokenizer = v.tokenizer !== undefined && isTokenizerName(v.tokenizer) ? v.tokenizer : undefined;
  if (!reference || !tokenizer || !((v.train && isTextDataFile(v.train)) || (v.val && isTextDataFile(v.val)))) return reference?.vocabSize;
  const problem = tokenizerProblem(tokenizer, reference);
  if (!problem) return reference.vocabSize;
  c.report(['data', 'tokenizer'], `${c.valueText(['data', 'tokenizer'], tokenizer)}${problem.detail}`, { fix: problem.fits ? changeTo(problem.fits) : undefined });
  // Every out-of-vocabulary token of the text would repeat that: text is then only checked for length.
  return undefined;
}

/** The data files: type, readable, in the vocabulary, long enough; and not validating on the training file. */
function checkDataFiles(c: FileChecks, reference: ReferenceInfo | undefined, textVocab: number | undefined): void {
  const { v } = c;
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
      c.report(d.key, `${pathText(d.key)} (${d.abs}): unsupported data file type "${ext || '(no extension)'}"; supported: ${TOKEN_FILE_EXTENSIONS.join(', ')}`);
      continue;
    }
    if (isTextDataFile(d.abs) && (!v.tokenizer || (v.tokenizer === 'model' && textVocab === undefined))) continue;
    const reading = dataReading(v, d.abs);
    c.needs.data.push(reading);
    const f = c.facts.dataFile(reading);
    if (!f) {
      c.pending = true;
      continue;
    }
    if (f.error) {
      c.report(d.key, engineMessage(d.key, d.abs, f.error));
      continue;
    }
    const vocab = isTextDataFile(d.abs) ? textVocab : reference?.vocabSize;
    const oov = vocab !== undefined ? firstOutOfVocab(f, vocab) : undefined;
    if (oov && vocab !== undefined) {
      c.report(d.key, `${pathText(d.key)} (${d.abs}): ${outOfVocabDetail(oov.id, oov.offset, vocab)}`);
      continue;
    }
    if (f.tokens === undefined) continue;
    if (d.minTokens !== undefined && f.tokens < d.minTokens) {
      c.report(d.key, `${pathText(d.key)} (${d.abs}): has ${f.tokens} tokens; at least ${d.minTokens} are needed (${d.why})`);
      continue;
    }
    if (d.key[1] === 'train' && v.subset !== undefined && v.subset < 1 && d.minTokens !== undefined) {
      const used = Math.floor(v.subset * f.tokens);
      if (used < d.minTokens) {
        c.report(['data', 'subset'], `data.subset (${v.subset}) of ${f.tokens} training tokens leaves ${used}; at least ${d.minTokens} are needed (${d.why})`);
      }
    }
  }
  if (v.train !== undefined && v.train === v.val) {
    c.report(['data', 'val'], 'data.val is the same file as data.train: the validation loss will not measure generalisation', { severity: 'warning' });
  }
}

/** The run store: a folder, or absent (created when the run starts). */
function checkRunStore(c: FileChecks): void {
  const { outDir } = c.v;
  if (outDir === undefined) return;
  try {
    if (!fs.statSync(outDir).isDirectory()) c.report(['runtime', 'out_dir'], `${c.outOption ? '--out' : 'runtime.out_dir'} (${outDir}) is a file, not a folder`);
  } catch {
    // Absent: created when the run starts.
  }
}

/** The torch engine's interpreter and devices, where the caller can probe them (the editor). */
function checkTorchEngine(c: FileChecks): void {
  const engine = torchSettings(c.parsed, c.facts.defaultPython);
  if (!engine || !c.facts.pythonProbe) return;
  c.needs.pythons.push(engine.python);
  const probe = c.facts.pythonProbe(engine.python);
  if (!probe) {
    c.pending = true;
    return;
  }
  try {
    if (!probe.ok) throw probe.error;
    checkTorchSettings(engine, probe.probe);
  } catch (e) {
    const source = e instanceof InherituneError ? e.source.split('.') : [];
    const at = source[0] === 'runtime' && c.given(source) ? source : c.given(['runtime', 'python']) && source[1] === 'python' ? source : ['runtime', 'engine'];
    c.report(at, (e as Error).message);
  }
}

/**
 * The file checks of `parsed` (the text of `file`): the reference model, the data files, what they
 * imply (layers, context length, vocabulary, memory and disk) and the run store, against `facts`.
 * Each check runs on the valid values it needs, whatever errors the rest of the file has; issues
 * carry the ranges of the values at fault (or of the nearest key written, for defaults).
 */
export function checkConfigFiles(parsed: ParsedRunConfig, file: string, facts: ConfigFacts, opts: Pick<CheckOptions, 'outDir' | 'hubModel'> = {}): FileCheck {
  const outOption = opts.outDir !== undefined;
  const v = { ...configValues(parsed, file), ...(outOption ? { outDir: path.resolve(opts.outDir as string) } : {}) };
  const c = new FileChecks(parsed, facts, v, outOption);
  const hubModel = checkHubReference(c, opts.hubModel);
  const fact = readReference(c);
  const reference = fact?.ok ? fact.info : undefined;
  const { config, estimate } = checkAgainstReference(c, fact, file, hubModel?.commit);
  checkDataFiles(c, reference, checkTokenizer(c, reference));
  checkRunStore(c);
  checkTorchEngine(c);
  c.issues.sort(byPosition);
  return { issues: c.issues, needs: c.needs, pending: c.pending, reference, config, estimate, hubModel };
}

/** checkConfigFiles after reading (into `facts`) every fact it needs: nothing is left pending. */
export async function checkReadingFacts(parsed: ParsedRunConfig, file: string, facts: FactCache, opts: Pick<CheckOptions, 'outDir' | 'hubModel'> = {}): Promise<FileCheck> {
  let files = checkConfigFiles(parsed, file, facts, opts);
  // Which facts are needed depends on facts (the reference's tokenizer.json decides which text is read): a few rounds.
  while (files.pending) {
    for (const dir of files.needs.references) facts.ensureReference(dir);
    await Promise.all(files.needs.data.map((d) => facts.ensureData(d)));
    files = checkConfigFiles(parsed, file, facts, opts);
  }
  return files;
}

export interface RunConfigCheck extends Omit<FileCheck, 'needs' | 'pending'> {
  /** Syntax, schema and file issues, in file order. */
  issues: ConfigIssue[];
  parsed: ParsedRunConfig;
}

/**
 * Every check of a config text, with the facts read from disk: the schema, and the file checks on
 * every valid value (checkConfigFiles) whatever else is wrong.
 */
export async function validateRunConfig(text: string, file: string, opts: CheckOptions = {}): Promise<RunConfigCheck> {
  const parsed = parseRunConfig(text, file);
  const readTokens = opts.readTokens !== false;
  const facts = new FactCache({ tokenCacheDir: opts.cacheDir, ...(readTokens ? {} : { maxTextBytes: 0, maxScanTokens: 0 }) });
  const { needs: _needs, pending: _pending, ...files } = await checkReadingFacts(parsed, file, facts, opts);
  return { ...files, issues: [...parsed.issues, ...files.issues].sort(byPosition), parsed };
}

/**
 * A config's issues as `inheritune run` and the training server refuse it: "N errors in the run
 * config:" (and its warnings), then every issue in file order, one `line(issue)` each: the list the
 * editor's Problems view and the sidebar show.
 */
export function configIssuesText(issues: readonly ConfigIssue[], line: (issue: ConfigIssue) => string): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const errors = issues.filter((i) => i.severity === 'error').length;
  const warnings = issues.length - errors;
  const head = `${count(errors, 'error')}${warnings > 0 ? ` and ${count(warnings, 'warning')}` : ''} in the run config:`;
  return [head, ...[...issues].sort(byPosition).map(line)].join('\n');
}

/**
 * Reads, parses and checks a run config before anything runs. Throws an InherituneError (source:
 * the file) listing every issue as `file:line:col: message` when there are errors; otherwise the
 * warnings are returned.
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
  if (result.issues.some((i) => i.severity === 'error') || !result.config || !result.reference) {
    throw new InherituneError(file, configIssuesText(result.issues, (i) => formatIssue(file, i)));
  }
  return { config: result.config, reference: result.reference, warnings: result.issues.filter((i) => i.severity === 'warning'), estimate: result.estimate };
}
