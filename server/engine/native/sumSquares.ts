/** A tensor's sum of squares in one native pass (the gradient norm), without the squares' copy. */
import type * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/** x.square().sum() to the bit; undefined where the native kernels do not serve the backend or x is out of reach. */
export function nativeSumSquares(x: tf.Tensor): number | undefined {
  const native = nativeBackend();
  const place = native?.memory.input(x);
  if (native === undefined || place === undefined) return undefined;
  return native.addon.sumSquares(place.array, place.offset, x.size);
}
