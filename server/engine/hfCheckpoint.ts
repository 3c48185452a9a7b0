/**
 * Hugging Face model directories (any family of modelFamily.ts, told apart by config.json's model_type):
 * config.json plus model.safetensors, or shards listed in model.safetensors.index.json. Reading is
 * lazy (only the tensors asked for are read, and a shard is opened only when one of its tensors is
 * needed) but validated up front: ModelDir.open checks
 * that every tensor the config calls for exists with the right shape, so a bad checkpoint fails
 * before any training starts. Tensors can also be read in pieces (byte ranges, embedding rows), so a
 * multi-GB checkpoint is never held whole. Writing is atomic (a whole new folder is swapped in) and
 * streamed tensor by tensor into one file or several shards.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SAVE_DTYPES, type SaveDtype } from '../protocol/config.js';
import { InherituneError } from './errors.js';
import { readJsonFile } from './jsonFile.js';
import { writeDirAtomic } from './fsAtomic.js';
import { assertReplaceable, OWN_METADATA_PREFIX } from './outputFolder.js';
import { isRecord } from './configFields.js';
import type { HostTensor, TensorShapes } from './familyOps.js';
import type { GPT2Config } from './gpt2Config.js';
import { blockIndexOf, blockShapesOf, canonicalNameOf, configToHFOf, exampleNames, outlineOf, parseConfigOf, parseModelConfig, shapesOf, type ModelConfig, type ModelFamily } from './modelFamily.js';
import { decodeFloat32, itemSize, SafetensorsReader, SafetensorsWriter, type Dtype, type StreamEntry, type TensorInfo, type WriteDtype } from './safetensors.js';

export type { HostTensor } from './familyOps.js';

const CONFIG_FILE = 'config.json';
const WEIGHTS_FILE = 'model.safetensors';
const INDEX_FILE = 'model.safetensors.index.json';

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);


/** At most `n` items, then "and K more". */
function listSome(items: string[], n = 5): string {
  const shown = items.slice(0, n).join(', ');
  return items.length > n ? `${shown} and ${items.length - n} more` : shown;
}

// ---------------------------------------------------------------------------------------------
// config.json

/** Precisions a model can be saved in (HF's torch_dtype names; runtime.save_dtype, defined in the protocol). */
export { SAVE_DTYPES, type SaveDtype };

const STORAGE: Record<SaveDtype, WriteDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
const TORCH_DTYPE: Record<WriteDtype, SaveDtype> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export function storageDtype(d: SaveDtype): WriteDtype {
  return STORAGE[d];
}

/** The HF config.json of any family; torch_dtype says how its weights are stored. */
export function configToHF(cfg: ModelConfig, dtype: WriteDtype = 'F32'): Record<string, unknown> {
  return configToHFOf(cfg, TORCH_DTYPE[dtype]);
}


// ---------------------------------------------------------------------------------------------
// Model directories

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
  /** Accept only this family (any other model_type is an error naming config.json). */
  family?: ModelFamily;
}

/** A model folder's Hugging Face tokenizer, when it has one (data.tokenizer: model). */
export const TOKENIZER_FILE = 'tokenizer.json';

export class ModelDir {
  private readonly readers = new Map<string, SafetensorsReader>();
  /** Every tensor config.json calls for; built once the checkpoint is known to hold its blocks. */
  private shapes: TensorShapes = new Map();
  /** model.safetensors or the index: the file that says which tensors the checkpoint holds. */
  private weightsSource: string;

  private constructor(
    readonly dir: string,
    readonly config: ModelConfig,
    private readonly locations: Map<string, Location>,
  ) {
    this.weightsSource = path.join(dir, WEIGHTS_FILE);
  }

  /** model.safetensors or the index: the file to name for a problem with the weights as a whole. */
  get weightsFile(): string {
    return this.weightsSource;
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
    const json = readJsonFile(configFile, CONFIG_FILE);
    const config = opts.family ? parseConfigOf(json, configFile, opts.family) : parseModelConfig(json, configFile);
    const layers = opts.layers ?? config.nLayer;
    if (!Number.isInteger(layers) || layers < 1 || layers > config.nLayer) {
      throw new InherituneError(dir, `cannot take ${layers} layers: the model has ${config.nLayer} (${configFile})`);
    }

    const model = new ModelDir(dir, config, new Map());
    try {
      model.locate();
      model.validate(shapesOf({ ...config, nLayer: layers }));
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
      const index = readJsonFile(indexFile, INDEX_FILE);
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
    this.checkLayerCount(keys.map(([key]) => key));
    this.shapes = shapesOf(this.config);
    const unexpected: string[] = [];
    for (const [key, file] of keys) {
      const name = canonicalNameOf(this.config, key);
      if (name === undefined) continue;
      if (!this.shapes.has(name)) unexpected.push(key);
      else if (this.locations.has(name)) throw new InherituneError(source, `tensor "${name}" is stored twice (as "${this.locations.get(name)?.key}" and "${key}")`);
      else this.locations.set(name, { key, file });
    }
    if (unexpected.length > 0) {
      throw new InherituneError(
        source,
        `${unexpected.length} tensor(s) do not belong to the model that ${CONFIG_FILE} describes ` +
          `(${this.outline()}): ${listSome(unexpected)}`,
      );
    }
  }

  /**
   * The checkpoint holds every block config.json calls for. Checked on the stored keys alone, before
   * the model's tensor table is built, so a config claiming far more layers than the weights hold is
   * refused at once, naming both files.
   */
  private checkLayerCount(keys: string[]): void {
    let blocks = 0;
    for (const key of keys) {
      const name = canonicalNameOf(this.config, key);
      const i = name === undefined ? undefined : blockIndexOf(this.config, name);
      if (i !== undefined && i + 1 > blocks) blocks = i + 1;
    }
    const { nLayer } = this.config;
    if (nLayer <= blocks) return;
    const perBlock = [...blockShapesOf(this.config, blocks).keys()];
    const missing = perBlock.length * (nLayer - blocks);
    const named = perBlock.slice(0, 5).join(', ');
    throw new InherituneError(
      this.weightsSource,
      `checkpoint is missing ${missing} tensor(s) that ${path.join(this.dir, CONFIG_FILE)} calls for: ${named}${missing > 5 ? ` and ${missing - 5} more` : ''} ` +
        `(${CONFIG_FILE} says ${nLayer} layers; the checkpoint holds ${blocks})`,
    );
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
  private check(name: string): { reader: SafetensorsReader; key: string; info: TensorInfo } {
    const expected = this.shapes.get(name);
    if (!expected) throw new InherituneError(this.dir, `"${name}" is not a tensor of this model (names look like ${exampleNames(this.config)})`);
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
    return { reader, key: loc.key, info };
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

  /** The weights file that holds tensor `name` (for messages about its values). */
  fileOf(name: string): string {
    this.check(name);
    return (this.locations.get(name) as Location).file;
  }

  /** The tensor as float32, after checking its shape against config.json. */
  read(name: string): Float32Array {
    const { reader, key } = this.check(name);
    return reader.readFloat32(key);
  }

  /** How the tensor is stored (dtype, shape, bytes), after checking its shape against config.json. */
  info(name: string): { dtype: Dtype; shape: number[]; byteLength: number } {
    const { info } = this.check(name);
    return { dtype: info.dtype, shape: [...info.shape], byteLength: info.byteLength };
  }

  /** `length` stored bytes of the tensor from byte `start` (its own dtype): for copies in pieces. */
  readBytes(name: string, start: number, length: number): Uint8Array {
    const { reader, key } = this.check(name);
    return reader.readBytesRange(key, start, length);
  }

  /**
   * Rows of a 2-D tensor as float32 [rows.length, columns], reading only those rows' bytes: the
   * embedding rows a batch of tokens needs, without the whole table.
   */
  readRows(name: string, rows: ArrayLike<number>): Float32Array {
    const { reader, key, info } = this.check(name);
    if (info.shape.length !== 2) throw new InherituneError(this.dir, `"${name}" is not a matrix`);
    const [nRows, cols] = info.shape;
    const rowBytes = cols * itemSize(info.dtype);
    const out = new Float32Array(rows.length * cols);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!Number.isInteger(r) || r < 0 || r >= nRows) throw new InherituneError(this.dir, `row ${r} of "${name}" is outside 0..${nRows - 1}`);
      out.set(decodeFloat32(reader.readBytesRange(key, r * rowBytes, rowBytes), info.dtype), i * cols);
    }
    return out;
  }

  /** Bytes of the weights, per storage dtype (e.g. {BF16: 6.8e9}), over the tensors the config calls for. */
  storage(): Partial<Record<Dtype, number>> {
    const out: Partial<Record<Dtype, number>> = {};
    for (const name of this.names()) {
      const loc = this.locations.get(name) as Location;
      const r = this.reader(loc.file);
      if (!r.has(loc.key)) continue;
      const info = r.info(loc.key);
      out[info.dtype] = (out[info.dtype] ?? 0) + info.byteLength;
    }
    return out;
  }

  private outline(): string {
    return outlineOf(this.config);
  }

  close(): void {
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }
}

/**
 * Loads a model directory (any family) into host memory. With `layers: n`, only blocks 0..n-1
 * and the non-block tensors are read (the others' bytes never are) and the returned config has
 * nLayer = n.
 */
export function loadModelDir(dir: string, opts: { layers?: number } = {}): { config: ModelConfig; tensors: Map<string, HostTensor> } {
  return loadFrom(ModelDir.open(dir, { layers: opts.layers }), opts.layers);
}

function loadFrom<C extends ModelConfig>(model: ModelDir, layers: number | undefined): { config: C; tensors: Map<string, HostTensor> } {
  try {
    const config = { ...model.config, nLayer: layers ?? model.config.nLayer } as C;
    const tensors = new Map<string, HostTensor>();
    for (const [name, shape] of shapesOf(config)) tensors.set(name, { shape: [...shape], data: model.read(name) });
    return { config, tensors };
  } finally {
    model.close();
  }
}

/** loadModelDir for GPT-2 models only: any other model_type is an error naming config.json. */
export function loadGPT2(dir: string, opts: { layers?: number } = {}): { config: GPT2Config; tensors: Map<string, HostTensor> } {
  return loadFrom<GPT2Config>(ModelDir.open(dir, { layers: opts.layers, family: 'gpt2' }), opts.layers);
}

/** How a model directory is written. */
export interface SaveOptions {
  /** Storage dtype of the weights (default F32); F16/BF16 round to nearest even. */
  dtype?: WriteDtype;
  /** String metadata stored in every weights file (format "pt" is always added). */
  metadata?: Record<string, string>;
  /**
   * Largest weights file in bytes (default 5e9, HF's default max_shard_size): a bigger model is
   * written as model-0000k-of-0000n.safetensors shards plus model.safetensors.index.json.
   */
  maxShardBytes?: number;
}

/** Where the bytes of one tensor come from when a model directory is streamed to disk. */
export interface TensorSink {
  readonly name: string;
  readonly shape: number[];
  /** The storage dtype being written. */
  readonly dtype: WriteDtype;
  /** The next values, as float32 (encoded to `dtype`). */
  writeFloat32(values: Float32Array): void;
  /** The next bytes, already in `dtype`. */
  writeBytes(bytes: Uint8Array): void;
}

export const DEFAULT_MAX_SHARD_BYTES = 5e9;

/**
 * Writes config.json and the weights of `config` (HF names, checkpoint order) into a new folder that
 * is swapped in for `dir` only once complete. `fill` is called once per tensor, in order, and must
 * write all of its values into the sink, in as many pieces as it likes: only one piece need be in
 * memory at a time.
 */
export function writeModelDir(dir: string, config: ModelConfig, fill: (sink: TensorSink) => void, opts: SaveOptions = {}): void {
  const dtype = opts.dtype ?? 'F32';
  const maxShard = opts.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  const entries: (StreamEntry & { bytes: number })[] = [];
  for (const [name, shape] of shapesOf(config)) entries.push({ name, shape: [...shape], dtype, bytes: shape.reduce((a, b) => a * b, 1) * itemSize(dtype) });
  // Consecutive tensors fill a shard up to maxShard bytes (one larger tensor gets a shard alone).
  const shards: (typeof entries)[] = [];
  let size = 0;
  for (const e of entries) {
    if (shards.length === 0 || (size + e.bytes > maxShard && size > 0)) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(e);
    size += e.bytes;
  }
  const n = shards.length;
  const fileName = (k: number) => (n === 1 ? WEIGHTS_FILE : `model-${String(k + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`);
  // transformers refuses safetensors files whose metadata lacks format "pt"; the inheritune_ key
  // marks the folder as ours, so that a later write may replace it (outputFolder.ts).
  const metadata = { [`${OWN_METADATA_PREFIX}format`]: '1', ...opts.metadata, format: 'pt' };
  // What goes wrong in writing is reported naming `dir`; what `fill` reports about its own source
  // (e.g. a reference tensor it refuses) passes through as it is.
  const writeErrors = new WeakSet<Error>();
  const sourceErrors = new WeakSet<Error>();
  try {
    writeDirAtomic(dir, (tmp) => {
      fs.writeFileSync(path.join(tmp, CONFIG_FILE), JSON.stringify(configToHF(config, dtype), null, 2) + '\n');
      const weightMap: Record<string, string> = {};
      shards.forEach((shard, k) => {
        const file = path.join(tmp, fileName(k));
        const w = SafetensorsWriter.open(file, shard, metadata);
        const writing = <A>(write: (a: A) => void) => (a: A) => {
          try {
            write(a);
          } catch (err) {
            if (err instanceof Error) writeErrors.add(err);
            throw err;
          }
        };
        try {
          for (const e of shard) {
            try {
              fill({ name: e.name, shape: e.shape, dtype, writeFloat32: writing((v) => w.writeFloat32(v)), writeBytes: writing((b) => w.writeBytes(b)) });
            } catch (err) {
              if (err instanceof InherituneError && !writeErrors.has(err)) sourceErrors.add(err);
              throw err;
            }
            if (w.current === e) throw new InherituneError(file, `tensor "${e.name}" was not written completely`);
            weightMap[e.name] = fileName(k);
          }
          w.finish();
        } catch (err) {
          w.abort();
          if (err instanceof InherituneError) throw err;
          throw new InherituneError(file, `cannot write: ${(err as Error).message}`);
        }
      });
      if (n > 1) {
        const index = { metadata: { total_size: entries.reduce((a, e) => a + e.bytes, 0) }, weight_map: weightMap };
        fs.writeFileSync(path.join(tmp, INDEX_FILE), JSON.stringify(index, null, 2) + '\n');
      }
    }, assertReplaceable);
  } catch (e) {
    // Nothing is left behind (writeDirAtomic removes its temporary folder); say where writing failed.
    if (e instanceof InherituneError && (e.source === dir || sourceErrors.has(e))) throw e;
    if (e instanceof InherituneError) throw new InherituneError(dir, `cannot write the model: ${path.basename(e.source)}: ${e.detail}`);
    throw new InherituneError(dir, `cannot write the model: ${(e as Error).message}`);
  }
}

/**
 * Writes config.json + weights (HF names, checkpoint order; F32 unless opts.dtype says otherwise,
 * sharded past opts.maxShardBytes) as a new folder swapped in for `dir` only once complete.
 * `tensors` must be exactly the config's tensors.
 */
export function saveModelDir(dir: string, config: ModelConfig, tensors: Map<string, HostTensor>, opts: SaveOptions = {}): void {
  const shapes = shapesOf(config);
  const extra = [...tensors.keys()].filter((n) => !shapes.has(n));
  const missing = [...shapes.keys()].filter((n) => !tensors.has(n));
  if (extra.length > 0 || missing.length > 0) {
    const parts = [missing.length ? `missing ${listSome(missing)}` : '', extra.length ? `unexpected ${listSome(extra)}` : ''];
    throw new InherituneError(dir, `cannot save: tensors do not match the config (${parts.filter(Boolean).join('; ')})`);
  }
  for (const [name, shape] of shapes) {
    const t = tensors.get(name) as HostTensor;
    if (!sameShape(t.shape, shape) || t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new InherituneError(dir, `cannot save: tensor "${name}" has shape ${fmtShape(t.shape)} (${t.data.length} values), expected ${fmtShape(shape)}`);
    }
  }
  writeModelDir(dir, config, (sink) => sink.writeFloat32((tensors.get(sink.name) as HostTensor).data), opts);
}

/**
 * Writes config.json + model.safetensors (F32, HF names without prefix, modelShapes order) as a new
 * folder swapped in for `dir` only once complete. `tensors` must be exactly the config's tensors.
 */
export function saveGPT2(dir: string, config: GPT2Config, tensors: Map<string, HostTensor>, metadata?: Record<string, string>): void {
  saveModelDir(dir, config, tensors, { metadata, maxShardBytes: Infinity });
}
