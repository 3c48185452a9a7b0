/**
 * tfjs-core as the engine uses it: with the chained tensor methods (x.add(y)), which keep the model
 * readable, and every op's gradient registered, for training. Engine modules import tf from here.
 *
 * Everything comes from tfjs-core's ESM tree (dist/index.js and its side-effect modules), never from
 * its CJS main file: the side-effect modules exist only as ESM, and ops from two copies of tfjs-core
 * mixed in one gradient tape break backpropagation (null gradients through Cast).
 */
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import '@tensorflow/tfjs-core/dist/register_all_gradients';

export * from '@tensorflow/tfjs-core/dist/index.js';
