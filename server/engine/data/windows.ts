/**
 * Deterministic windows over a token array. A window is `seqLen` input tokens; with targets, the
 * targets are the same span shifted by one token, so a training window needs seqLen + 1 tokens.
 * Random windows are a pure function of (seed, index), so a run resumes exactly from a position.
 */
import { InherituneError } from '../errors.js';

export interface Batch {
  /** Row-major [batchSize, seqLen]. */
  inputs: Int32Array;
  /** Row-major [batchSize, seqLen]; -1 where a window ends at the last token and has no target. */
  targets: Int32Array;
  batchSize: number;
  seqLen: number;
}

function checkSeqLen(seqLen: number): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new RangeError(`seqLen must be a positive integer, got ${seqLen}`);
}

/** Tokens one window needs: seqLen, plus one for the last target. */
export const tokensPerWindow = (seqLen: number, withTargets: boolean): number => seqLen + (withTargets ? 1 : 0);

/** Throws, naming `source` and the tokens needed, when not even one window fits. */
export function assertEnoughTokens(nTokens: number, seqLen: number, withTargets: boolean, source = 'token data'): void {
  checkSeqLen(seqLen);
  const needed = tokensPerWindow(seqLen, withTargets);
  if (nTokens < needed) {
    const what = withTargets ? `one window of ${seqLen} tokens plus its target` : `one window of ${seqLen} tokens`;
    throw new InherituneError(source, `has ${nTokens} tokens; at least ${needed} are needed for ${what}`);
  }
}

/**
 * Non-overlapping windows: window i starts at i * seqLen. With targets, only windows whose last
 * target (token i*seqLen + seqLen) is in the data count; without, windows whose inputs fit.
 */
export function contiguousWindowCount(nTokens: number, seqLen: number, withTargets: boolean): number {
  checkSeqLen(seqLen);
  return Math.max(0, Math.floor((withTargets ? nTokens - 1 : nTokens) / seqLen));
}

/** Starts of the first `maxWindows` (default all) contiguous windows. */
export function contiguousStarts(nTokens: number, seqLen: number, withTargets: boolean, maxWindows?: number, source?: string): number[] {
  assertEnoughTokens(nTokens, seqLen, withTargets, source);
  const count = Math.min(contiguousWindowCount(nTokens, seqLen, withTargets), maxWindows ?? Infinity);
  return Array.from({ length: Math.max(0, count) }, (_, i) => i * seqLen);
}

/** lowbias32 (Chris Wellons): a bijective 32-bit mixer with near-ideal avalanche. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

const TWO_32 = 2 ** 32;

/** A uniform double in [0, 1) with 53 random bits, a pure function of two integers. */
function hashUnit(seed: number, index: number): number {
  // Both integers are absorbed 32 bits at a time, so seeds and indices beyond 2^32 stay distinct.
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  h = mix32(h ^ (Math.floor(seed / TWO_32) >>> 0));
  h = mix32(h ^ (index >>> 0));
  h = mix32(h ^ (Math.floor(index / TWO_32) >>> 0));
  const high21 = mix32(h ^ 0x85ebca6b) >>> 11;
  const low32 = mix32(h ^ 0xc2b2ae35);
  return (high21 * TWO_32 + low32) / 2 ** 53;
}

/**
 * Start of the index-th random training window: uniform over [0, nTokens - seqLen - 1], so its
 * targets fit. 53 random bits keep the bias negligible even for corpora of billions of tokens.
 */
export function randomStart(seed: number, index: number, nTokens: number, seqLen: number, source?: string): number {
  assertEnoughTokens(nTokens, seqLen, true, source);
  if (!Number.isSafeInteger(seed) || !Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`seed and index must be integers (index >= 0), got seed ${seed}, index ${index}`);
  }
  return Math.floor(hashUnit(seed, index) * (nTokens - seqLen));
}

/** Starts of random windows fromIndex .. fromIndex + count - 1. */
export function randomStarts(seed: number, fromIndex: number, count: number, nTokens: number, seqLen: number, source?: string): number[] {
  return Array.from({ length: count }, (_, k) => randomStart(seed, fromIndex + k, nTokens, seqLen, source));
}

/**
 * Gathers windows into a batch. Every window's inputs must lie in `tokens`. A target past the end
 * is -1: only analysis windows (made without targets) reach that far, and they ignore targets.
 */
export function makeBatch(tokens: ArrayLike<number>, starts: number[], seqLen: number): Batch {
  checkSeqLen(seqLen);
  const batchSize = starts.length;
  const inputs = new Int32Array(batchSize * seqLen);
  const targets = new Int32Array(batchSize * seqLen);
  starts.forEach((s, b) => {
    if (!Number.isInteger(s) || s < 0 || s + seqLen > tokens.length) {
      throw new RangeError(`window start ${s} with seqLen ${seqLen} is outside ${tokens.length} tokens`);
    }
    for (let t = 0; t < seqLen; t++) {
      inputs[b * seqLen + t] = tokens[s + t];
      targets[b * seqLen + t] = s + t + 1 < tokens.length ? tokens[s + t + 1] : -1;
    }
  });
  return { inputs, targets, batchSize, seqLen };
}

export interface WindowCursorOptions {
  nTokens: number;
  seqLen: number;
  seed: number;
  mode: 'random' | 'contiguous';
  /** Windows already consumed (from a checkpoint); default 0. */
  position?: number;
  /** Names the data in errors, e.g. its file path. */
  source?: string;
}

/**
 * The training data position, as a single checkpointable number: the count of windows handed out.
 * Random mode yields randomStart(seed, position + k); contiguous mode walks the contiguous
 * training windows in order and wraps around at the end.
 */
export class WindowCursor {
  private pos: number;
  private readonly windows: number;

  constructor(private readonly opts: WindowCursorOptions) {
    assertEnoughTokens(opts.nTokens, opts.seqLen, true, opts.source);
    const position = opts.position ?? 0;
    if (!Number.isSafeInteger(position) || position < 0) throw new RangeError(`cursor position must be an integer >= 0, got ${position}`);
    this.pos = position;
    this.windows = contiguousWindowCount(opts.nTokens, opts.seqLen, true);
  }

  get position(): number {
    return this.pos;
  }

  /** Starts of the next `count` windows. */
  next(count: number): number[] {
    const { seed, mode, nTokens, seqLen, source } = this.opts;
    const from = this.pos;
    this.pos += count;
    if (mode === 'random') return randomStarts(seed, from, count, nTokens, seqLen, source);
    return Array.from({ length: count }, (_, k) => ((from + k) % this.windows) * seqLen);
  }
}
