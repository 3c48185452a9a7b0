/**
 * The Qwen2 family (HF `Qwen2Config`, `Qwen2ForCausalLM`): LLaMA's layout and decoder (RMSNorm,
 * rotary rotate-half with rope_theta, SwiGLU, grouped-query attention) with biases on the q, k and
 * v projections (not on o_proj, not in the MLP), HF's key names (`model.layers.{i}.self_attn.q_proj.bias`).
 *
 * Sliding-window attention is refused rather than ignored: with `use_sliding_window: true`, HF
 * restricts the upper layers' attention to a window, which the engine does not implement, so the
 * figures would silently differ. Released Qwen2 checkpoints ship `use_sliding_window: false`.
 */
import type { ConfigFields } from './configFields.js';
import type { FamilyOps } from './familyOps.js';
import { parseRotaryFields, ROTARY_OPS, rotaryFieldsToHF, type RotaryConfig } from './llamaConfig.js';

export interface Qwen2Config extends RotaryConfig {
  family: 'qwen2';
}

function parseQwen2Fields(f: ConfigFields): Qwen2Config {
  f.only('use_sliding_window', false, 'sliding-window attention is not supported (only false, what released Qwen2 checkpoints ship)');
  // HF's Qwen2Config defaults num_key_value_heads to 32 whatever the head count: a config without it is ambiguous.
  return parseRotaryFields(f, 'qwen2', { nPositions: 32768, qkvBias: true, tieWordEmbeddings: false, kvHeadsRequired: true });
}

/** A config.json that transformers' Qwen2ForCausalLM loads (and the parser reads back). */
function qwen2ConfigToHF(cfg: Qwen2Config, torchDtype: string): Record<string, unknown> {
  return {
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    ...rotaryFieldsToHF(cfg, torchDtype),
    use_sliding_window: false,
    attention_dropout: 0.0,
  };
}

export const QWEN2_FAMILY: FamilyOps<Qwen2Config> = {
  ...ROTARY_OPS,
  modelType: 'qwen2',
  parse: parseQwen2Fields,
  toHF: qwen2ConfigToHF,
  outline: (cfg) => `Qwen2, ${cfg.nLayer} layers, ${cfg.nHead} heads (${cfg.nKvHead} key/value), tied ${cfg.tieWordEmbeddings}`,
};
