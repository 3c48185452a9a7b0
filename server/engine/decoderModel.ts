/**
 * What every family's model in tfjs variables does alike, whatever its blocks: holds its
 * parameters, reads attention off the blocks, computes the loss from its logits, copies itself to
 * the host, and frees its memory.
 */
import * as tf from './tf.js';
import { crossEntropy } from './crossEntropy.js';
import type { HostTensor, TensorShapes } from './familyOps.js';
import type { ForwardResult } from './modelFamily.js';
import { createParams, disposeParams, paramsToHost } from './params.js';

export abstract class DecoderModel<C extends { vocabSize: number }> {
  readonly params: Map<string, tf.Variable>;

  constructor(
    readonly config: C,
    shapes: TensorShapes,
    weights: Map<string, HostTensor>,
  ) {
    this.params = createParams(shapes, weights);
  }

  /** inputs: int32 token ids [B, T] with T <= nPositions. */
  abstract forward(inputs: tf.Tensor2D, opts?: { attention?: boolean }): ForwardResult;

  /** The residual stream after the blocks, [B, T, C], capturing each block's attention when asked. */
  protected abstract hidden(inputs: tf.Tensor2D, capture: tf.Tensor4D[] | undefined): tf.Tensor3D;

  /** The forward pass's attention, without the head (a third of an analysis' products for GPT-2 small). */
  attentionMaps(inputs: tf.Tensor2D): tf.Tensor4D[] {
    const capture: tf.Tensor4D[] = [];
    return tf.tidy(() => {
      this.hidden(inputs, capture);
      return capture;
    });
  }

  /** Mean next-token cross-entropy in nats; targets [B, T] int32 aligned with inputs (-1: no target). */
  loss(inputs: tf.Tensor2D, targets: tf.Tensor2D): tf.Scalar {
    return tf.tidy(() => crossEntropy(this.forward(inputs).logits, targets, this.config.vocabSize));
  }

  /** Copies every parameter to the host, in checkpoint order. */
  toHost(): Promise<Map<string, HostTensor>> {
    return paramsToHost(this.params);
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
