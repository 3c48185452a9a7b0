/**
 * x @ W + b as one product whose kernel writes the bias into the output first (native/kernels.ts's
 * _FusedMatMul): no separate pass adding the bias, no tensor for the product without it.
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/**
 * x [rows, in] @ w [in, out] + bias [out], differentiable (tfjs's fused matMul gradient); undefined
 * where the native kernels do not serve the backend (the wasm backend's own fused kernel adds the
 * bias wrongly to transposed products, so it is not used in their place).
 */
export function nativeAffine(x: tf.Tensor2D, w: tf.Tensor2D, bias: tf.Tensor): tf.Tensor2D | undefined {
  if (nativeBackend() === undefined || x.dtype !== 'float32' || w.dtype !== 'float32' || bias.dtype !== 'float32') return undefined;
  return tf.fused.matMul({ a: x, b: w, bias }) as tf.Tensor2D;
}
