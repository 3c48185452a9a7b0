/**
 * GPT-2's gelu_new as one native pass forward and one backward, equal to gpt2.ts's tfjs ops (the
 * forward to the bit), keeping only its input for the gradient: the tfjs ops keep six tensors of
 * the MLP's width per layer for it.
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/** gelu_new(x), differentiable; undefined where the native kernels do not serve the backend. */
export function nativeGelu(x: tf.Tensor): tf.Tensor | undefined {
  const native = nativeBackend();
  if (native === undefined || x.dtype !== 'float32' || native.memory.input(x) === undefined) return undefined;
  const { addon, memory } = native;
  const engine = tf.engine();
  const shape = [...x.shape];
  const n = x.size;
  const gelu = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const out = memory.output(shape);
    const X = memory.input(input)!;
    const Y = out.place();
    addon.gelu(X.array, X.offset, Y.array, Y.offset, n);
    save([input]);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dx = memory.output(shape);
        const XS = memory.input(saved[0])!;
        const DY = memory.input(dy as tf.Tensor)!;
        const DX = dx.place();
        addon.geluGrad(XS.array, XS.offset, DY.array, DY.offset, DX.array, DX.offset, n);
        return engine.makeTensorFromTensorInfo(dx.info);
      },
    };
  });
  return gelu(x);
}
