/**
 * Reading the fields of a Hugging Face config.json, shared by every family's parser: each bad field
 * is one InherituneError naming the file and the field. Sizes are bounded here, before anything is
 * allocated from them, so an absurd config (n_layer: 1e9) is refused at once instead of building
 * shape tables or buffers of that size.
 */
import { InherituneError } from './errors.js';

/**
 * Upper bounds of each kind of size, far above any released model (LLaMA-3-405B: 126 layers, width
 * 16384, 128 heads, MLP 53248; vocabularies up to 256K; contexts up to about 1M).
 */
export const SIZE_LIMITS = {
  layers: 1024,
  width: 65536,
  heads: 1024,
  headDim: 4096,
  mlp: 1 << 20,
  vocab: 1 << 22,
  positions: 1 << 24,
} as const;
export type SizeKind = keyof typeof SIZE_LIMITS;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class ConfigFields {
  constructor(
    readonly json: Record<string, unknown>,
    readonly source: string,
  ) {}

  static of(json: unknown, source: string): ConfigFields {
    if (!isRecord(json)) throw new InherituneError(source, 'config must be a JSON object');
    return new ConfigFields(json, source);
  }

  fail(detail: string): never {
    throw new InherituneError(this.source, detail);
  }

  bad(field: string, want: string): never {
    return this.fail(`field "${field}" must be ${want}, got ${JSON.stringify(this.json[field])}`);
  }

  has(field: string): boolean {
    return this.json[field] !== undefined && this.json[field] !== null;
  }

  /** A size within 1..SIZE_LIMITS[kind]; `dflt` when absent (missing is an error without one). */
  size(field: string, kind: SizeKind, dflt?: number): number {
    if (!this.has(field)) {
      if (dflt !== undefined) return dflt;
      this.fail(`missing field "${field}"`);
    }
    const v = this.json[field];
    if (!Number.isSafeInteger(v) || (v as number) < 1) this.bad(field, 'a positive integer');
    const max = SIZE_LIMITS[kind];
    if ((v as number) > max) this.fail(`field "${field}" is ${v}, beyond any model this tool can hold (at most ${max})`);
    return v as number;
  }

  /** A finite number > 0. */
  positive(field: string, dflt: number): number {
    const v = this.json[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) this.bad(field, 'a positive number');
    return v as number;
  }

  bool(field: string, dflt: boolean): boolean {
    const v = this.json[field];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') this.bad(field, 'true or false');
    return v as boolean;
  }

  /** A token id, when present and valid; some configs list several end ids: the first is the one text data ends with. */
  tokenId(field: string): number | undefined {
    const v = this.json[field];
    const id = Array.isArray(v) ? v[0] : v;
    return Number.isSafeInteger(id) && (id as number) >= 0 ? (id as number) : undefined;
  }

  /** Refuses a field whose value is anything but `allowed` (absent is allowed). */
  only(field: string, allowed: unknown, why: string): void {
    const v = this.json[field];
    if (v !== undefined && v !== allowed) this.fail(`field "${field}" is ${JSON.stringify(v)}; ${why}`);
  }
}
