/**
 * AdamW's step as one native pass over a parameter and its moments, written in place: no
 * temporaries, and no second copy of the weights. Only on data made for it that no other tensor
 * shares, since tfjs tensors are otherwise immutable: a variable created from host weights may
 * share the caller's array (the cpu backend keeps the array it is given), so the first step (and
 * the first after a variable is assigned) copies each tensor once.
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/** Data made by makeOwned: copies that only their variable holds. */
const owned = new WeakSet<object>();

/** Makes `v`'s data a fresh copy that only `v` holds. */
function makeOwned(v: tf.Variable): void {
  const copy = tf.tidy(() => v.mul(1));
  v.assign(copy);
  copy.dispose();
  owned.add(v.dataId);
}

const hyper = new Float64Array(10);

/**
 * One AdamW step on `p` (with its moments `m`, `v`) in place; false where the native kernels do
 * not serve the backend or a tensor is out of reach, and then nothing was changed.
 * h: the step's scalars as train/adamw.ts computes them (c1, c2: the bias corrections; scale: the
 * gradient's clipping factor).
 */
export function adamwInPlace(
  p: tf.Variable,
  g: tf.Tensor,
  m: tf.Variable,
  v: tf.Variable,
  h: { b1: number; b2: number; eps: number; lr: number; decay: number; c1: number; c2: number; scale: number },
): boolean {
  const native = nativeBackend();
  if (native === undefined) return false;
  const { addon, memory } = native;
  if ([p, g, m, v].some((x) => memory.input(x) === undefined)) return false;
  for (const x of [p, m, v]) if (!owned.has(x.dataId) || memory.refCount(x) !== 1) makeOwned(x);
  // Places are read after makeOwned: allocating may move the wasm heap.
  const P = memory.input(p)!;
  const G = memory.input(g)!;
  const M = memory.input(m)!;
  const V = memory.input(v)!;
  hyper.set([h.b1, 1 - h.b1, h.b2, 1 - h.b2, h.c1, h.c2, h.eps, h.lr, h.decay, h.scale]);
  addon.adamw(P.array, P.offset, G.array, G.offset, M.array, M.offset, V.array, V.offset, p.size, hyper);
  return true;
}
