/**
 * Logit knowledge distillation (Hinton et al. 2015), the paper's kd baseline (method.md section 6):
 *
 *   loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T)) + (1 - alpha) * CE(student, targets)
 *
 * KL and CE are means over the target positions (targets -1 are left out, as in crossEntropy); the
 * T^2 keeps the distillation term's gradient scale independent of T. Teacher logits are constants.
 */
import * as tf from '../tf.js';
import { crossEntropy } from '../crossEntropy.js';

export interface DistillSettings {
  alpha: number;
  temperature: number;
}

export function distillationLoss(student: tf.Tensor, teacher: tf.Tensor, targets: tf.Tensor, vocabSize: number, o: DistillSettings): tf.Scalar {
  return tf.tidy(() => {
    const T = o.temperature;
    const s = tf.logSoftmax(student.reshape([-1, vocabSize]).div(T));
    const t = tf.logSoftmax(teacher.reshape([-1, vocabSize]).div(T));
    const mask = targets.reshape([-1]).greaterEqual(0).toFloat();
    const kl = t.exp().mul(t.sub(s)).sum(1);
    const kd = kl.mul(mask).sum().div(mask.sum());
    const ce = crossEntropy(student, targets, vocabSize);
    return kd.mul(o.alpha * T * T).add(ce.mul(1 - o.alpha)) as tf.Scalar;
  });
}
