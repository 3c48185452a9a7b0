/**
 * Hugging Face GPT-2 model directories: config.json plus model.safetensors, or shards listed in
 * model.safetensors.index.json. Reading is lazy (only the tensors asked for are read, and a shard
 * is opened only when one of its tensors is needed) but validated up front: ModelDir.open checks
 * that every tensor the config calls for exists with the right shape, so a bad checkpoint fails
 * before any training starts. Writing is atomic (a whole new folder is swapped in).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InherituneError } from './errors.js';
import { writeDirAtomic } from './fsAtomic.js';
import { modelShapes, type GPT2Config, type HostTensor, type TensorShapes } from './gpt2Config.js';
import { SafetensorsReader, writeSafetensors } from './safetensors.js';

export type { HostTensor } from './gpt2Config.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';
/** Activations equal to GPT-2's tanh-approximated GELU, the one the engine implements. */
const ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh'];
/** GPT-2's <|endoftext|> token. */
const GPT2_EOS = 50256;

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** At most `n` items, then "and K more". */
function listSome(items: string[], n = 5): string {
  const shown = items.slice(0, n).join(', ');
  return items.length > n ? `${shown} and ${items.length - n} more` : shown;
}

// ---------------------------------------------------------------------------------------------
// config.json

/** Reads an HF GPT-2 config.json object; `source` (the file's path) names it in errors. */
export function parseGPT2Config(json: unknown, source: string): GPT2Config {
  if (!isRecord(json)) throw new InherituneError(source, 'config must be a JSON object');
  const bad = (field: string, want: string): never => {
    throw new InherituneError(source, `field "${field}" must be ${want}, got ${JSON.stringify(json[field])}`);
  };
  const posInt = (field: string, fallback?: string): number => {
    const used = json[field] === undefined && fallback !== undefined && json[fallback] !== undefined ? fallback : field;
    if (json[used] === undefined) throw new InherituneError(source, `missing field "${field}"${fallback ? ` (or "${fallback}")` : ''}`);
    if (!Number.isSafeInteger(json[used]) || (json[used] as number) < 1) bad(used, 'a positive integer');
    return json[used] as number;
  };
  const bool = (field: string, dflt: boolean): boolean => {
    const v = json[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') bad(field, 'true or false');
    return v as boolean;
  };

  if (json.model_type !== undefined && json.model_type !== 'gpt2') {
    throw new InherituneError(source, `field "model_type" is ${JSON.stringify(json.model_type)}; only GPT-2 models ("gpt2") are supported`);
  }
  const nEmbd = posInt('n_embd');
  const nHead = posInt('n_head');
  if (nEmbd % nHead !== 0) throw new InherituneError(source, `field "n_embd" (${nEmbd}) must be divisible by "n_head" (${nHead})`);
  // HF's default; false drops the 1/sqrt(head dim) attention scaling, which the engine always applies.
  if (json.scale_attn_weights !== undefined && json.scale_attn_weights !== true) {
    throw new InherituneError(source, `field "scale_attn_weights" is ${JSON.stringify(json.scale_attn_weights)}; only true (GPT-2's default) is supported`);
  }
  const act = json.activation_function ?? 'gelu_new';
  if (typeof act !== 'string' || !ACTIVATIONS.includes(act)) {
    throw new InherituneError(source, `field "activation_function" is ${JSON.stringify(act)}; supported: ${ACTIVATIONS.join(', ')}`);
  }
  const eps = json.layer_norm_epsilon ?? 1e-5;
  if (typeof eps !== 'number' || !Number.isFinite(eps) || eps <= 0) bad('layer_norm_epsilon', 'a positive number');
  const nInner = json.n_inner === undefined || json.n_inner === null ? 4 * nEmbd : posInt('n_inner');
  return {
    vocabSize: posInt('vocab_size'),
    nPositions: posInt('n_positions', 'n_ctx'),
    nEmbd,
    nLayer: posInt('n_layer'),
    nHead,
    nInner,
    layerNormEpsilon: eps as number,
    bias: bool('bias', true),
    scaleAttnByInverseLayerIdx: bool('scale_attn_by_inverse_layer_idx', false),
    tieWordEmbeddings: bool('tie_word_embeddings', true),
  };
}

/** A config.json that transformers' GPT2LMHeadModel loads (and parseGPT2Config reads back). */
export function gpt2ConfigToHF(cfg: GPT2Config): Record<string, unknown> {
  // GPT-2's tokenizer ends text with token 50256; a smaller test vocabulary uses its last id.
  const eos = cfg.vocabSize > GPT2_EOS ? GPT2_EOS : cfg.vocabSize - 1;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: cfg.vocabSize,
    n_positions: cfg.nPositions,
    n_ctx: cfg.nPositions,
    n_embd: cfg.nEmbd,
    n_layer: cfg.nLayer,
    n_head: cfg.nHead,
    n_inner: cfg.nInner === 4 * cfg.nEmbd ? null : cfg.nInner,
    activation_function: 'gelu_new',
    layer_norm_epsilon: cfg.layerNormEpsilon,
    scale_attn_by_inverse_layer_idx: cfg.scaleAttnByInverseLayerIdx,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    resid_pdrop: 0.0,
    embd_pdrop: 0.0,
    attn_pdrop: 0.0,
    initializer_range: 0.02,
    bos_token_id: eos,
    eos_token_id: eos,
    torch_dtype: 'float32',
    // Our own field: HF's GPT-2 always has biases and ignores it (it would init them randomly).
    ...(cfg.bias ? {} : { bias: false }),
  };
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InherituneError(file, code === 'ENOENT' ? `missing ${what}` : `cannot read ${what}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InherituneError(file, `${what} is not valid JSON (${(e as Error).message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Model directories

/** Canonical tensor name of a checkpoint key, or undefined for keys that are not weights. */
function canonicalName(key: string, cfg: GPT2Config): string | undefined {
  const name = key.startsWith('transformer.') ? key.slice('transformer.'.length) : key;
  // Causal-mask buffers `h.N.attn.bias` / `h.N.attn.masked_bias` (not `h.N.attn.c_attn.bias`).
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return undefined;
  // Tied models compute the head from wte; a stored copy is redundant.
  if (name === 'lm_head.weight' && cfg.tieWordEmbeddings) return undefined;
  return name;
}

interface Location {
  /** Key as stored in the file (maybe with `transformer.`). */
  key: string;
  /** Absolute path of the safetensors file holding it. */
  file: string;
}

export interface OpenOptions {
  /**
   * Validate only blocks 0..layers-1 (plus the non-block tensors): for callers that will read only
   * those, so shards holding nothing but later blocks are never opened.
   */
  layers?: number;
}

export class ModelDir {
  private readonly readers = new Map<string, SafetensorsReader>();
  private readonly shapes: TensorShapes;
  /** model.safetensors or the index: the file that says which tensors the checkpoint holds. */
  private weightsSource: string;

  private constructor(
    readonly dir: string,
    readonly config: GPT2Config,
    private readonly locations: Map<string, Location>,
  ) {
    this.shapes = modelShapes(config);
    this.weightsSource = path.join(dir, WEIGHTS_FILE);
  }

  static open(dir: string, opts: OpenOptions = {}): ModelDir {
    let stat: fs.Stats;
    try {
      stat = fs.statSync(dir);
    } catch {
      throw new InherituneError(dir, 'model directory not found');
    }
    if (!stat.isDirectory()) {
      throw new InherituneError(dir, `is a file, not a model directory (expected a folder holding ${CONFIG_FILE} and ${WEIGHTS_FILE})`);
    }
    const configFile = path.join(dir, CONFIG_FILE);
    const config = parseGPT2Config(readJson(configFile, CONFIG_FILE), configFile);
    const layers = opts.layers ?? config.nLayer;
    if (!Number.isInteger(layers) || layers < 1 || layers > config.nLayer) {
      throw new InherituneError(dir, `cannot take ${layers} layers: the model has ${config.nLayer} (${configFile})`);
    }

    const model = new ModelDir(dir, config, new Map());
    try {
      model.locate();
      model.validate(modelShapes({ ...config, nLayer: layers }));
      return model;
    } catch (e) {
      model.close();
      throw e;
    }
  }

  /** Finds where every tensor lives (from the single file's header, or the shard index). */
  private locate(): void {
    const single = path.join(this.dir, WEIGHTS_FILE);
    const indexFile = path.join(this.dir, INDEX_FILE);
    const keys: [string, string][] = []; // [stored key, file]
    let source: string;
    if (fs.existsSync(single)) {
      source = single;
      for (const key of this.reader(single).names()) keys.push([key, single]);
    } else if (fs.existsSync(indexFile)) {
      source = indexFile;
      const index = readJson(indexFile, INDEX_FILE);
      const map = isRecord(index) ? index.weight_map : undefined;
      if (!isRecord(map)) throw new InherituneError(indexFile, '"weight_map" must be an object {tensor name: shard file}');
      for (const [key, shard] of Object.entries(map)) {
        if (typeof shard !== 'string' || shard === '' || path.isAbsolute(shard) || shard.split(/[\\/]/).includes('..')) {
          throw new InherituneError(indexFile, `weight_map entry "${key}" must name a shard file inside the model directory, got ${JSON.stringify(shard)}`);
        }
        keys.push([key, path.join(this.dir, shard)]);
      }
    } else {
      const bin = fs.existsSync(path.join(this.dir, 'pytorch_model.bin'));
      throw new InherituneError(
        this.dir,
        `missing weights: no ${WEIGHTS_FILE} or ${INDEX_FILE}` + (bin ? ' (pytorch_model.bin is not supported; convert it to safetensors)' : ''),
      );
    }
    this.weightsSource = source;
    const unexpected: string[] = [];
    for (const [key, file] of keys) {
      const name = canonicalName(key, this.config);
      if (name === undefined) continue;
      if (!this.shapes.has(name)) unexpected.push(key);
      else if (this.locations.has(name)) throw new InherituneError(source, `tensor "${name}" is stored twice (as "${this.locations.get(name)?.key}" and "${key}")`);
      else this.locations.set(name, { key, file });
    }
    if (unexpected.length > 0) {
      throw new InherituneError(
        source,
        `${unexpected.length} tensor(s) do not belong to the model that ${CONFIG_FILE} describes ` +
          `(${this.config.nLayer} layers, bias ${this.config.bias}, tied ${this.config.tieWordEmbeddings}): ${listSome(unexpected)}`,
      );
    }
  }

  /** Every tensor of `required` exists, is floating point and has the config's shape. */
  private validate(required: TensorShapes): void {
    const missing = [...required.keys()].filter((n) => !this.locations.has(n));
    if (missing.length > 0) {
      throw new InherituneError(
        this.weightsSource,
        `checkpoint is missing ${missing.length} tensor(s) that ${path.join(this.dir, CONFIG_FILE)} calls for: ${listSome(missing)}`,
      );
    }
    for (const name of required.keys()) this.check(name);
  }

  /** Where `name` lives, after checking its stored shape and dtype against the config. */
  private check(name: string): { reader: SafetensorsReader; key: string } {
    const expected = this.shapes.get(name);
    if (!expected) throw new InherituneError(this.dir, `"${name}" is not a tensor of this model (names look like wte.weight, h.0.ln_1.weight)`);
    const loc = this.locations.get(name);
    if (!loc) throw new InherituneError(this.weightsSource, `checkpoint is missing tensor "${name}"`);
    const reader = this.reader(loc.file);
    if (!reader.has(loc.key)) throw new InherituneError(loc.file, `${INDEX_FILE} places tensor "${loc.key}" in this file, but the file has no such tensor`);
    const info = reader.info(loc.key);
    if (!sameShape(info.shape, expected)) {
      throw new InherituneError(
        loc.file,
        `tensor "${loc.key}" has shape ${fmtShape(info.shape)} but ${CONFIG_FILE} implies ${fmtShape(expected)}`,
      );
    }
    if (!['F32', 'F16', 'BF16', 'F64'].includes(info.dtype)) {
      throw new InherituneError(loc.file, `tensor "${loc.key}" has dtype ${info.dtype}; weights must be F32, F16, BF16 or F64`);
    }
    return { reader, key: loc.key };
  }

  /** The reader for `file`, opened (header only) on first use. */
  private reader(file: string): SafetensorsReader {
    let r = this.readers.get(file);
    if (!r) {
      if (!fs.existsSync(file)) throw new InherituneError(file, `missing weights file (listed in ${path.join(this.dir, INDEX_FILE)})`);
      r = SafetensorsReader.open(file);
      this.readers.set(file, r);
    }
    return r;
  }

  /** Canonical names of the model tensors present, in checkpoint (modelShapes) order. */
  names(): string[] {
    return [...this.shapes.keys()].filter((n) => this.locations.has(n));
  }

  has(name: string): boolean {
    return this.locations.has(name);
  }

  /** The tensor as float32, after checking its shape against config.json. */
  read(name: string): Float32Array {
    const { reader, key } = this.check(name);
    return reader.readFloat32(key);
  }

  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }
}

/**
 * Loads a model directory into host memory. With `layers: n`, only blocks 0..n-1 and the non-block
 * tensors are read (the others' bytes never are) and the returned config has nLayer = n.
 */
export function loadGPT2(dir: string, opts: { layers?: number } = {}): { config: GPT2Config; tensors: Map<string, HostTensor> } {
  const model = ModelDir.open(dir, { layers: opts.layers });
  try {
    const config: GPT2Config = { ...model.config, nLayer: opts.layers ?? model.config.nLayer };
    const tensors = new Map<string, HostTensor>();
    for (const [name, shape] of modelShapes(config)) tensors.set(name, { shape: [...shape], data: model.read(name) });
    return { config, tensors };
  } finally {
    model.close();
  }
}

/**
 * Writes config.json + model.safetensors (F32, HF names without prefix, modelShapes order) as a new
 * folder swapped in for `dir` only once complete. `tensors` must be exactly the config's tensors.
 */
export function saveGPT2(dir: string, config: GPT2Config, tensors: Map<string, HostTensor>, metadata?: Record<string, string>): void {
  const shapes = modelShapes(config);
  const extra = [...tensors.keys()].filter((n) => !shapes.has(n));
  const missing = [...shapes.keys()].filter((n) => !tensors.has(n));
  if (extra.length > 0 || missing.length > 0) {
    const parts = [missing.length ? `missing ${listSome(missing)}` : '', extra.length ? `unexpected ${listSome(extra)}` : ''];
    throw new InherituneError(dir, `cannot save: tensors do not match the config (${parts.filter(Boolean).join('; ')})`);
  }
  const ordered: [string, HostTensor][] = [];
  for (const [name, shape] of shapes) {
    const t = tensors.get(name) as HostTensor;
    if (!sameShape(t.shape, shape) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new InherituneError(dir, `cannot save: tensor "${name}" has shape ${fmtShape(t.shape)} (${t.data.length} values), expected ${fmtShape(shape)}`);
    }
    ordered.push([name, t]);
  }
  try {
    writeDirAtomic(dir, (tmp) => {
      fs.writeFileSync(path.join(tmp, CONFIG_FILE), JSON.stringify(gpt2ConfigToHF(config), null, 2) + '\n');
      // transformers refuses safetensors files whose metadata lacks format "pt".
      writeSafetensors(path.join(tmp, WEIGHTS_FILE), ordered, { ...metadata, format: 'pt' });
    });
  } catch (e) {
    // Nothing is left behind (writeDirAtomic removes its temporary folder); say where writing failed.
    if (e instanceof InherituneError) throw new InherituneError(dir, `cannot write the model: ${path.basename(e.source)}: ${e.detail}`);
    throw new InherituneError(dir, `cannot write the model: ${(e as Error).message}`);
  }
}
