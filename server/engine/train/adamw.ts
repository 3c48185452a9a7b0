/**
 * AdamW as torch.optim.AdamW computes it (decoupled weight decay, bias-corrected moments), with
 * decay applied only to matrices (tensors of rank >= 2), as nanoGPT does. The moments live in tfjs
 * variables and can be copied to and from the host for checkpoints.
 */
import * as tf from '../tf.js';
import type { HostTensor } from '../familyOps.js';
import { adamwInPlace } from '../native/adamw.js';

export interface AdamWOptions {
  betas: [number, number];
  eps: number;
  weightDecay: number;
}

export interface AdamWState {
  /** Number of updates applied so far (the t in the bias corrections). */
  t: number;
  m: Map<string, HostTensor>;
  v: Map<string, HostTensor>;
}

export class AdamW {
  private t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly params: Map<string, tf.Variable>,
    private readonly opts: AdamWOptions,
  ) {
    for (const [name, p] of params) {
      for (const moments of [this.m, this.v]) {
        // The zeros are disposed once the variable holds them: it alone does then.
        const zeros = tf.zerosLike(p);
        moments.set(name, tf.variable(zeros, false));
        zeros.dispose();
      }
    }
  }

  get updates(): number {
    return this.t;
  }

  /** One step with the gradients times `scale` (gradient clipping's factor; 1: as they are). */
  apply(grads: Map<string, tf.Tensor>, lr: number, scale = 1): void {
    this.t += 1;
    const [b1, b2] = this.opts.betas;
    const c1 = 1 - b1 ** this.t;
    const c2 = 1 - b2 ** this.t;
    // One tidy per parameter: the update's temporaries (about ten tensors of the parameter's size)
    // are freed before the next parameter's, so the step needs them for the largest parameter only.
    for (const [name, p] of this.params) {
      const g = grads.get(name);
      if (g === undefined) throw new Error(`AdamW: no gradient for ${name}`);
      const m = this.m.get(name)!;
      const v = this.v.get(name)!;
      const decay = p.rank >= 2 ? 1 - lr * this.opts.weightDecay : 1;
      // The native kernels' fused step, in place; else the same arithmetic in tfjs ops.
      if (adamwInPlace(p, g, m, v, { b1, b2, eps: this.opts.eps, lr, decay, c1, c2, scale })) continue;
      tf.tidy(() => {
        const gs = scale === 1 ? g : g.mul(scale);
        const mNew = m.mul(b1).add(gs.mul(1 - b1));
        const vNew = v.mul(b2).add(gs.square().mul(1 - b2));
        m.assign(mNew);
        v.assign(vNew);
        const update = mNew.div(c1).div(vNew.div(c2).sqrt().add(this.opts.eps)).mul(lr);
        p.assign(p.mul(decay).sub(update));
      });
    }
  }

  /** The moments on the host; read asynchronously (a GPU backend has no synchronous read). */
  async state(): Promise<AdamWState> {
    const host = async (vars: Map<string, tf.Variable>) => {
      const out = new Map<string, HostTensor>();
      for (const [k, x] of vars) out.set(k, { shape: [...x.shape], data: new Float32Array(await x.data()) });
      return out;
    };
    return { t: this.t, m: await host(this.m), v: await host(this.v) };
  }

  load(state: AdamWState): void {
    this.t = state.t;
    for (const [moments, saved] of [
      [this.m, state.m],
      [this.v, state.v],
    ] as const) {
      for (const [name, x] of moments) {
        const s = saved.get(name);
        if (s === undefined || s.shape.join(',') !== x.shape.join(',')) {
          throw new Error(`optimizer state for "${name}" is missing or has the wrong shape`);
        }
        tf.tidy(() => x.assign(tf.tensor(s.data, s.shape)));
      }
    }
  }

  dispose(): void {
    for (const x of [...this.m.values(), ...this.v.values()]) x.dispose();
  }
}
