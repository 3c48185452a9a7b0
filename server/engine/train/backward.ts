/**
 * tf.variableGrads that frees memory as the backward pass goes. tfjs keeps every tensor an op saved
 * for its gradient, and the gradient of every intermediate tensor, until the whole backward pass
 * ends, so a step's peak holds all activations and all their gradients at once. Here, once a tape
 * node's gradient has run, the tensors only it used are disposed: what it saved, the gradients of
 * its outputs, and any input gradient tfjs has just summed into an earlier one (tfjs keeps that
 * addend). Results are tfjs's own: the same gradient functions run in the same order. Where the native
 * kernels serve the backend, a second gradient is summed into the first in place (no new tensor).
 */
import * as tf from '../tf.js';
import { markAccumulation, setGradientSums } from '../native/accumulate.js';

/** The fields of tfjs's tape nodes (engine state, tfjs-core 4.x) this module uses. */
interface TapeNode {
  inputs: Record<string, tf.Tensor>;
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineState {
  activeTape: TapeNode[] | null;
  gradientDepth: number;
}

export function variableGradsFreeing(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: tf.NamedTensorMap } {
  try {
    return tf.variableGrads(() => {
      const y = f();
      freeAsBackwardGoes(tf.engine().state as unknown as EngineState);
      return y;
    }, vars);
  } finally {
    setGradientSums(undefined);
  }
}

/** Wraps each recorded node's gradient function (called last to first by tfjs's backward pass). */
function freeAsBackwardGoes(state: EngineState): void {
  // A gradient inside a gradient: the outer pass may still need what the inner one saved.
  if (state.gradientDepth !== 1 || state.activeTape === null) return;
  // What the node whose gradient ran last used alone, and what its gradient functions returned
  // (tfjs holds those: never disposed here, even where they are the same tensor as a dy).
  let done: tf.Tensor[] = [];
  let returned = new Set<tf.Tensor>();
  const hasGradient = new Set<number>();
  // Per tensor with a gradient: the data of the sum tfjs keeps for it, when that sum can be added to
  // in place (its first gradient, a tensor returned for this input alone); see native/accumulate.ts.
  const sumData = new Map<number, object>();
  // Ops may add their gradient into that data themselves (native/embeddingGrad.ts) during this pass.
  setGradientSums((x) => sumData.get(x.id));
  // Every gradient returned so far, with the input it was the first gradient of (if it was).
  const owners = new Map<tf.Tensor, number | undefined>();
  const release = () => {
    for (const t of done) if (!returned.has(t)) t.dispose();
    done = [];
    returned = new Set();
  };
  for (const node of state.activeTape) {
    const gradient = node.gradient;
    if (gradient === undefined) continue;
    node.gradient = (dys) => {
      // Every gradient function of the previous node has run by now: tfjs calls them at once.
      release();
      const thunks = gradient(dys);
      for (const t of [...(node.saved ?? []), ...dys]) if (t !== null) done.push(t);
      const wrapped: Record<string, () => tf.Tensor> = {};
      for (const [name, thunk] of Object.entries(thunks)) {
        wrapped[name] = () => {
          const dx = thunk();
          const x = node.inputs[name];
          // A tensor returned twice (for two inputs) is never summed into: that would change both.
          const repeated = owners.has(dx);
          const owner = owners.get(dx);
          if (owner !== undefined) sumData.delete(owner);
          // A second gradient for x: tfjs adds it to the first and then no longer needs it (or, where
          // its op added it into the first's data already, dx is that data: the Add is done).
          if (x !== undefined && hasGradient.has(x.id)) {
            done.push(dx);
            const target = sumData.get(x.id);
            if (target !== undefined && !repeated) markAccumulation(target, dx.dataId);
            owners.set(dx, undefined);
          } else {
            returned.add(dx);
            if (x !== undefined) {
              hasGradient.add(x.id);
              if (!repeated) sumData.set(x.id, dx.dataId);
            }
            owners.set(dx, repeated ? undefined : x?.id);
          }
          return dx;
        };
      }
      return wrapped;
    };
  }
}
