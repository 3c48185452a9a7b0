/**
 * Layer norm over the last axis as one native pass forward and one backward, equal to gpt2.ts's
 * tfjs ops to float32 rounding, keeping for the gradient only its input and two numbers per row
 * (the tfjs ops keep four tensors of the input's size).
 */
import * as tf from '../tf.js';
import { nativeBackend } from './index.js';

/** (x - mean) * rsqrt(var + eps) * weight (+ bias), differentiable; undefined where the native kernels do not serve the backend. */
export function nativeLayerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | undefined, eps: number): tf.Tensor | undefined {
  const native = nativeBackend();
  const inputs = bias === undefined ? [x, weight] : [x, weight, bias];
  if (native === undefined || inputs.some((t) => t.dtype !== 'float32' || native.memory.input(t) === undefined)) return undefined;
  const { addon, memory } = native;
  const engine = tf.engine();
  const shape = [...x.shape];
  const cols = shape[shape.length - 1];
  const rows = x.size / cols;
  const hasBias = bias !== undefined;
  const norm = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [xi, wi, bi] = args.slice(0, -1) as tf.Tensor[];
    const out = memory.output(shape);
    const stats = memory.output([rows, 2]);
    const X = memory.input(xi)!;
    const W = memory.input(wi)!;
    const B = hasBias ? memory.input(bi)! : W;
    const Y = out.place();
    const S = stats.place();
    addon.layerNorm(X.array, X.offset, W.array, W.offset, B.array, B.offset, hasBias, eps, Y.array, Y.offset, S.array, S.offset, rows, cols);
    save([xi, wi, engine.makeTensorFromTensorInfo(stats.info)]);
    return {
      value: engine.makeTensorFromTensorInfo(out.info),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dx = memory.output(shape);
        const dw = memory.output([cols]);
        const db = hasBias ? memory.output([cols]) : undefined;
        const [XS, WS, SS] = saved.map((t) => memory.input(t)!);
        const DY = memory.input(dy as tf.Tensor)!;
        const DX = dx.place();
        const DW = dw.place();
        const DB = db?.place() ?? DW;
        addon.layerNormGrad(XS.array, XS.offset, WS.array, WS.offset, SS.array, SS.offset, DY.array, DY.offset, DX.array, DX.offset, DW.array, DW.offset, DB.array, DB.offset, hasBias, rows, cols);
        return [dx, dw, ...(db ? [db] : [])].map((o) => engine.makeTensorFromTensorInfo(o.info));
      },
    };
  });
  return norm(...inputs);
}
