/**
 * Log-likelihood requests scored as lm-evaluation-harness's HFLM scores them: the context and
 * continuation encoded as a pair (trailing spaces of the context moved into the continuation, the
 * continuation's ids taken from the encoding of the whole), the sequence cut from the left to the
 * model's context + 1 tokens, and the continuation's log-probabilities summed; `greedy` says whether
 * every continuation token is the argmax. Rolling log-likelihood (wikitext) splits a text into
 * disjoint windows of the model's context, each predicted from the one token before it
 * (get_rolling_token_windows with context_len 1 + make_disjoint_window).
 */
import * as tf from '../tf.js';
import type { LanguageModel } from '../modelFamily.js';
import type { Tokenizer } from '../data/tokenizer.js';
import { InherituneError } from '../errors.js';

/** Ids of a context and its continuation, ready to score. */
export interface TokenRequest {
  context: number[];
  continuation: number[];
}

export interface Score {
  ll: number;
  greedy: boolean;
}

/**
 * Text to ids as the harness encodes (add_special_tokens false): a tokenizer whose post-processor
 * puts a BOS before every text (LLaMA's tokenizer.json) has it removed. `prefix` is the token a rolling
 * window starts from: that BOS, else the end-of-text id (HFLM's prefix_token_id).
 */
export class TaskEncoder {
  private readonly special: number[];
  readonly prefix: number;

  constructor(private readonly tok: Tokenizer) {
    this.special = tok.encode('');
    this.prefix = this.special.length > 0 ? this.special[0] : tok.eot;
  }

  encode(text: string): number[] {
    const ids = this.tok.encode(text);
    const n = this.special.length;
    return n > 0 && this.special.every((id, i) => ids[i] === id) ? ids.slice(n) : ids;
  }

  /** HFLM._encode_pair. */
  pair(context: string, continuation: string): TokenRequest {
    const nSpaces = context.length - context.trimEnd().length;
    if (nSpaces > 0) {
      continuation = context.slice(-nSpaces) + continuation;
      context = context.slice(0, -nSpaces);
    }
    const whole = this.encode(context + continuation);
    const ctx = this.encode(context);
    return { context: ctx, continuation: whole.slice(ctx.length) };
  }

  /** The disjoint windows of a rolling log-likelihood over `text` for a model of `maxLength` positions. */
  rolling(text: string, maxLength: number): TokenRequest[] {
    const tokens = this.encode(text);
    if (tokens.length === 0) return [];
    const out: TokenRequest[] = [];
    const first = Math.min(maxLength, tokens.length);
    out.push({ context: [this.prefix], continuation: tokens.slice(0, first) });
    let predicted = first;
    while (predicted < tokens.length) {
      const n = Math.min(tokens.length - predicted, maxLength);
      const end = predicted + n;
      // The window's context is every token before it that fits; the harness keeps all maxLength + 1 - n of them.
      out.push({ context: tokens.slice(Math.max(0, end - maxLength - 1), end - n), continuation: tokens.slice(end - n, end) });
      predicted = end;
    }
    return out;
  }
}

/** Tokens per forward pass (batch x longest sequence): keeps the logits of a large vocabulary bounded. */
const TOKEN_BUDGET = 2048;

/**
 * Scores requests with `model` (maxLength: its positions), a few per forward pass, sequences padded
 * on the right (causal attention: padding never changes earlier positions). `label(i)` names request i
 * in errors.
 */
export function scoreRequests(model: LanguageModel, requests: TokenRequest[], maxLength: number, label: (i: number) => string, onProgress?: (done: number) => void): Score[] {
  const V = model.config.vocabSize;
  const inputs = requests.map((r, i) => {
    if (r.continuation.length === 0) throw new InherituneError(label(i), 'the continuation encodes to no tokens');
    if (r.continuation.length > maxLength) throw new InherituneError(label(i), `the continuation has ${r.continuation.length} tokens, more than the model's ${maxLength} positions`);
    // Left truncation to maxLength + 1 tokens, the last one only a target.
    return [...r.context, ...r.continuation].slice(-(maxLength + 1)).slice(0, -1);
  });
  const scores: Score[] = [];
  let i = 0;
  while (i < requests.length) {
    let end = i + 1;
    let longest = inputs[i].length;
    while (end < requests.length && Math.max(longest, inputs[end].length) * (end + 1 - i) <= TOKEN_BUDGET) longest = Math.max(longest, inputs[end++].length);
    const batch = new Int32Array((end - i) * longest);
    for (let b = i; b < end; b++) batch.set(inputs[b], (b - i) * longest);
    const picked = tf.tidy(() => {
      const { logits } = model.forward(tf.tensor2d(batch, [end - i, longest], 'int32'));
      const out: { ll: tf.Tensor1D; argmax: tf.Tensor1D }[] = [];
      for (let b = i; b < end; b++) {
        const n = requests[b].continuation.length;
        const rows = logits.slice([b - i, inputs[b].length - n, 0], [1, n, V]).reshape([n, V]) as tf.Tensor2D;
        const target = tf.oneHot(tf.tensor1d(requests[b].continuation, 'int32'), V).toFloat();
        out.push({ ll: rows.mul(target).sum(1).sub(rows.logSumExp(1)) as tf.Tensor1D, argmax: rows.argMax(1) as tf.Tensor1D });
      }
      return out;
    });
    for (let b = i; b < end; b++) {
      const { ll, argmax } = picked[b - i];
      const lls = ll.dataSync();
      const best = argmax.dataSync();
      const cont = requests[b].continuation;
      let sum = 0;
      for (const v of lls) sum += v;
      if (!Number.isFinite(sum)) throw new InherituneError(label(b), `the log-likelihood is ${sum}: the model's weights hold NaN or infinite values`);
      scores.push({ ll: sum, greedy: cont.every((t, k) => best[k] === t) });
      ll.dispose();
      argmax.dispose();
    }
    i = end;
    onProgress?.(i);
  }
  return scores;
}
