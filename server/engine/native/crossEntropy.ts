/**
 * The per-row negative log-likelihood of logits [rows, V] against int32 targets as two native
 * passes (forward, and its gradient softmax - onehot), so training holds no logSoftmax, exp or
 * one-hot tensor of rows x V beside the logits and their gradient.
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/**
 * NLL [rows] of logits [rows, V] (0 where the target is -1), differentiable in the logits;
 * undefined where the native kernels do not serve the backend.
 */
export function nativeNll(logits: tf.Tensor2D, targets: tf.Tensor1D): tf.Tensor1D | undefined {
  const native = nativeBackend();
  if (native === undefined || logits.dtype !== 'float32' || targets.dtype !== 'int32') return undefined;
  const { addon, memory } = native;
  if (memory.input(logits) === undefined || memory.inputInt32(targets) === undefined) return undefined;
  const [rows, cols] = logits.shape;
  const engine = tf.engine();
  const nll = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const out = memory.output([rows]);
    const stats = memory.output([rows, 2]);
    const X = memory.input(x)!;
    const T = memory.inputInt32(targets)!;
    const N = out.place();
    const S = stats.place();
    addon.xentForward(X.array, X.offset, T.array, T.offset, N.array, N.offset, S.array, S.offset, rows, cols);
    const s = engine.makeTensorFromTensorInfo(stats.info);
    save([x, s]);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [xs, ss] = saved;
        const dx = memory.output([rows, cols]);
        const XS = memory.input(xs)!;
        const SS = memory.input(ss)!;
        const TT = memory.inputInt32(targets)!;
        const DY = memory.input(dy as tf.Tensor)!;
        const DX = dx.place();
        addon.xentBackward(XS.array, XS.offset, TT.array, TT.offset, SS.array, SS.offset, DY.array, DY.offset, DX.array, DX.offset, rows, cols);
        return engine.makeTensorFromTensorInfo(dx.info);
      },
    };
  });
  return nll(logits) as tf.Tensor1D;
}
