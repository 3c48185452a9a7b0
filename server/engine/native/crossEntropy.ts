/**
 * The per-row negative log-likelihood of logits [rows, V] against int32 targets as two native
 * passes: the forward keeps each row's exponentials and their sum instead of the logits, and the
 * gradient, softmax - onehot, is one scaling pass written over those exponentials; so training
 * holds no logSoftmax, exp or one-hot tensor of rows x V and takes one exponential per logit.
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
    const sums = memory.output([rows]);
    const exps = memory.output([rows, cols]);
    const X = memory.input(x)!;
    const T = memory.inputInt32(targets)!;
    const N = out.place();
    const S = sums.place();
    const E = exps.place();
    addon.xentForward(X.array, X.offset, T.array, T.offset, N.array, N.offset, S.array, S.offset, E.array, E.offset, rows, cols);
    save([engine.makeTensorFromTensorInfo(exps.info), engine.makeTensorFromTensorInfo(sums.info)]);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [es, ss] = saved;
        // The exponentials are this gradient's alone: it is written over them.
        const inPlace = memory.refCount(es) === 1;
        const dx = inPlace ? undefined : memory.output([rows, cols]);
        const ES = memory.input(es)!;
        const SS = memory.input(ss)!;
        const TT = memory.inputInt32(targets)!;
        const DY = memory.input(dy as tf.Tensor)!;
        const DX = dx === undefined ? ES : dx.place();
        addon.xentBackward(ES.array, ES.offset, TT.array, TT.offset, SS.array, SS.offset, DY.array, DY.offset, DX.array, DX.offset, rows, cols);
        return engine.makeTensorFromTensorInfo(dx === undefined ? memory.share(es) : dx.info);
      },
    };
  });
  return nll(logits) as tf.Tensor1D;
}
