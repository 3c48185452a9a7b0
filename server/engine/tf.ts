/**
 * tfjs-core as the engine uses it: with the chained tensor methods (x.add(y)), which keep the model
 * readable, and every op's gradient registered, for training. Engine modules import tf from here.
 */
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-core/dist/register_all_gradients';

export * from '@tensorflow/tfjs-core';
