/**
 * (residual +) x @ W (+ b) as one product whose output starts as the bias (and the residual stream)
 * before the BLAS adds the product to it: no pass adding the bias, none adding the residual, no
 * tensor for the product without them.
 */
import * as tf from '../tf.js';
import { BinaryOp, UnaryOp } from './addon.js';
import { nativeBackend } from './index.js';

/**
 * (residual [rows, out] +) x [rows, in] @ w [in, out] (+ bias [out]), differentiable; undefined
 * where the native kernels do not serve the backend, or where there is neither bias nor residual
 * (a plain product).
 */
export function nativeAffine(x: tf.Tensor2D, w: tf.Tensor2D, bias?: tf.Tensor1D, residual?: tf.Tensor2D): tf.Tensor2D | undefined {
  const native = nativeBackend();
  const inputs = [x, w, ...(bias ? [bias] : []), ...(residual ? [residual] : [])];
  if (native === undefined || (bias === undefined && residual === undefined) || inputs.some((t) => t.dtype !== 'float32')) return undefined;
  const { addon, memory } = native;
  if (inputs.some((t) => memory.input(t) === undefined)) return undefined;
  const [rows, nIn] = x.shape;
  const nOut = w.shape[1];
  const engine = tf.engine();
  const affine = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xs, ws] = args as tf.Tensor[];
    const b = bias === undefined ? undefined : (args[2] as tf.Tensor);
    const r = residual === undefined ? undefined : (args[bias === undefined ? 2 : 3] as tf.Tensor);
    save([xs, ws]);
    const out = memory.output([rows, nOut]);
    const Y = out.place();
    // The output's first values: the residual and the bias, the bias on every row (stride 0).
    const B = b === undefined ? undefined : memory.input(b)!;
    const R = r === undefined ? undefined : memory.input(r)!;
    if (R !== undefined && B !== undefined) addon.binary(BinaryOp.add, R.array, R.offset, B.array, B.offset, Y.array, Y.offset, new Float64Array([2, rows, nOut, nOut, 1, 0, 1]));
    else if (R !== undefined) addon.unary(UnaryOp.copy, R.array, R.offset, Y.array, Y.offset, rows * nOut);
    else if (B !== undefined) addon.copy(B.array, B.offset, Y.array, Y.offset, new Float64Array([2, rows, nOut, 0, 1, nOut, 1]));
    const X = memory.input(xs)!;
    const W = memory.input(ws)!;
    addon.gemm(false, false, rows, nOut, nIn, X.array, X.offset, 0, W.array, W.offset, 0, Y.array, Y.offset, 1, true);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const g = dy as tf.Tensor2D;
        const [sx, sw] = saved as tf.Tensor2D[];
        const grads = [tf.matMul(g, sw, false, true), tf.matMul(sx, g, true, false)];
        if (b !== undefined) grads.push(g.sum(0));
        // The residual's gradient is dy itself, as tfjs's add gives it (a tensor sharing its data).
        if (r !== undefined) grads.push(g.reshape(g.shape));
        return grads;
      },
    };
  });
  return affine(...inputs) as tf.Tensor2D;
}
