"""GPT-2 and LLaMA in PyTorch, the same models as server/engine/gpt2.ts and llama.ts (which equal
Hugging Face's GPT2LMHeadModel and LlamaForCausalLM, eager attention). Module and parameter names
are chosen so that state_dict() keys are the HF names the TS engine reads and writes
(GPT-2 without the `transformer.` prefix), and tensors keep HF layouts: GPT-2's Conv1D weights are
[in, out] (y = x W + b), LLaMA's linear weights [out, in].

GPT-2:  x = wte[idx] + wpe[0..T-1]; per block x += attn(ln_1(x)); x += mlp(ln_2(x));
        logits = ln_f(x) @ wte^T (or lm_head when untied). mlp: c_fc -> gelu_new -> c_proj.
LLaMA:  x = embed_tokens[idx]; per block x += attn(rmsnorm(x)); x += mlp(rmsnorm(x));
        logits = rmsnorm(x) @ lm_head^T. RoPE in HF's rotate-half convention, grouped-query
        attention, SwiGLU MLP.

Attention: on CUDA with torch >= 2.0, F.scaled_dot_product_attention (flash/memory-efficient
kernels); elsewhere the explicit softmax with the TS engine's additive -1e9 causal mask, so fp32 CPU
results match the TS engine.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')


def causal_attention(q, k, v, scale, fused):
    """softmax(q k^T * scale + causal mask) v for q, k, v [B, H, T, D] (k, v already repeated for GQA)."""
    if fused:
        # SDPA's `scale` argument needs torch >= 2.1: fold a non-default scale into q instead.
        if scale is not None:
            q = q * (scale * math.sqrt(q.shape[-1]))
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    T = q.shape[-2]
    # -1e9 above the diagonal, as the TS engine (and HF's dtype-minimum fill) does: exactly zero after softmax.
    mask = torch.triu(torch.full((T, T), -1e9, device=q.device, dtype=torch.float32), diagonal=1)
    scores = (q @ k.transpose(-2, -1)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    return torch.softmax(scores + mask.to(scores.dtype), dim=-1) @ v


# ------------------------------------------------------------------------------------------------
# GPT-2

class Conv1D(nn.Module):
    """HF's Conv1D: weight [in, out], y = x W + b."""

    def __init__(self, n_in, n_out, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.empty(n_out)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y + self.bias if self.bias is not None else y


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (nn.LayerNorm's bias=False needs torch >= 2.1)."""

    def __init__(self, n, eps, bias):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(n))
        self.bias = nn.Parameter(torch.empty(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


def gelu_new(x):
    """HF's gelu_new: the tanh approximation of GELU."""
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x.pow(3))))


class GPT2Attention(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        C = cfg['n_embd']
        self.n_head = cfg['n_head']
        self.c_attn = Conv1D(C, 3 * C, cfg['bias'])
        self.c_proj = Conv1D(C, C, cfg['bias'])
        self.scale = 1 / math.sqrt(C // self.n_head)
        if cfg['scale_attn_by_inverse_layer_idx']:
            self.scale /= layer + 1
        self.fused = False

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in self.c_attn(x).split(C, dim=2))
        y = causal_attention(q, k, v, self.scale, self.fused)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class GPT2MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.c_fc = Conv1D(cfg['n_embd'], cfg['n_inner'], cfg['bias'])
        self.c_proj = Conv1D(cfg['n_inner'], cfg['n_embd'], cfg['bias'])

    def forward(self, x):
        return self.c_proj(gelu_new(self.c_fc(x)))


class GPT2Block(nn.Module):
    def __init__(self, cfg, layer):
        super().__init__()
        C, eps, bias = cfg['n_embd'], cfg['layer_norm_epsilon'], cfg['bias']
        self.ln_1 = LayerNorm(C, eps, bias)
        self.attn = GPT2Attention(cfg, layer)
        self.ln_2 = LayerNorm(C, eps, bias)
        self.mlp = GPT2MLP(cfg)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C = cfg['n_embd']
        self.wte = nn.Embedding(cfg['vocab_size'], C)
        self.wpe = nn.Embedding(cfg['n_positions'], C)
        self.h = nn.ModuleList(GPT2Block(cfg, i) for i in range(cfg['n_layer']))
        self.ln_f = LayerNorm(C, cfg['layer_norm_epsilon'], cfg['bias'])
        self.lm_head = None if cfg['tie_word_embeddings'] else nn.Linear(C, cfg['vocab_size'], bias=False)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe.weight[:T]
        for block in self.h:
            x = block(x)
        head = self.wte.weight if self.lm_head is None else self.lm_head.weight
        return self.ln_f(x) @ head.t()


def gpt2_config(j):
    """config.json (HF GPT-2, as hfCheckpoint.ts reads it) -> the fields GPT2 uses."""
    n_embd = j['n_embd']
    return {
        'vocab_size': j['vocab_size'], 'n_positions': j['n_positions'], 'n_embd': n_embd, 'n_layer': j['n_layer'],
        'n_head': j['n_head'], 'n_inner': j.get('n_inner') or 4 * n_embd,
        'layer_norm_epsilon': j.get('layer_norm_epsilon', 1e-5), 'bias': j.get('bias', True),
        'scale_attn_by_inverse_layer_idx': j.get('scale_attn_by_inverse_layer_idx', False),
        'tie_word_embeddings': j.get('tie_word_embeddings', True),
    }


# ------------------------------------------------------------------------------------------------
# LLaMA

class RMSNorm(nn.Module):
    def __init__(self, n, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.empty(n))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(cfg, T, device):
    """cos, sin [T, D] of position t times rope_theta^(-2j/D), the D/2 frequencies repeated twice (HF's
    cat(freqs, freqs)); computed in float64 and rounded once, as the TS engine does."""
    D = cfg['head_dim']
    inv_freq = 1.0 / cfg['rope_theta'] ** (torch.arange(0, D, 2, dtype=torch.float64) / D)
    angles = torch.arange(T, dtype=torch.float64)[:, None] * inv_freq[None, :]
    emb = torch.cat([angles, angles], dim=-1)
    return emb.cos().float().to(device), emb.sin().float().to(device)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, D = cfg['hidden_size'], cfg['head_dim']
        self.H, self.KV, self.D = cfg['num_attention_heads'], cfg['num_key_value_heads'], D
        # Qwen2 is LLaMA with biases on the query, key and value projections (qwen2Config.ts).
        qkv_bias = cfg['qkv_bias']
        self.q_proj = nn.Linear(C, self.H * D, bias=qkv_bias)
        self.k_proj = nn.Linear(C, self.KV * D, bias=qkv_bias)
        self.v_proj = nn.Linear(C, self.KV * D, bias=qkv_bias)
        self.o_proj = nn.Linear(self.H * D, C, bias=False)
        self.fused = False

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        heads = lambda t, n: t.view(B, T, n, self.D).transpose(1, 2)
        q = heads(self.q_proj(x), self.H)
        k = heads(self.k_proj(x), self.KV)
        v = heads(self.v_proj(x), self.KV)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        # Grouped-query attention: query head h reads key/value head h // (H / KV) (HF's repeat_kv).
        rep = self.H // self.KV
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        y = causal_attention(q, k, v, None, self.fused)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, self.H * self.D))


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, F_ = cfg['hidden_size'], cfg['intermediate_size']
        self.gate_proj = nn.Linear(C, F_, bias=False)
        self.up_proj = nn.Linear(C, F_, bias=False)
        self.down_proj = nn.Linear(F_, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class LlamaBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        C, eps = cfg['hidden_size'], cfg['rms_norm_eps']
        self.input_layernorm = RMSNorm(C, eps)
        self.self_attn = LlamaAttention(cfg)
        self.post_attention_layernorm = RMSNorm(C, eps)
        self.mlp = LlamaMLP(cfg)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaBody(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg['vocab_size'], cfg['hidden_size'])
        self.layers = nn.ModuleList(LlamaBlock(cfg) for _ in range(cfg['num_hidden_layers']))
        self.norm = RMSNorm(cfg['hidden_size'], cfg['rms_norm_eps'])


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.model = LlamaBody(cfg)
        self.lm_head = None if cfg['tie_word_embeddings'] else nn.Linear(cfg['hidden_size'], cfg['vocab_size'], bias=False)

    def forward(self, idx):
        cos, sin = rope_tables(self.cfg, idx.shape[1], idx.device)
        x = self.model.embed_tokens(idx)
        for block in self.model.layers:
            x = block(x, cos, sin)
        head = self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        return self.model.norm(x) @ head.t()


def llama_config(j):
    """config.json (HF LLaMA or Qwen2, as llamaConfig.ts / qwen2Config.ts read it) -> the fields Llama uses."""
    C, H = j['hidden_size'], j['num_attention_heads']
    return {
        'vocab_size': j['vocab_size'], 'hidden_size': C, 'intermediate_size': j['intermediate_size'],
        'num_hidden_layers': j['num_hidden_layers'], 'num_attention_heads': H,
        'num_key_value_heads': j.get('num_key_value_heads') or H, 'head_dim': j.get('head_dim') or C // H,
        'rms_norm_eps': j.get('rms_norm_eps', 1e-6), 'rope_theta': j.get('rope_theta', 10000.0),
        'tie_word_embeddings': j.get('tie_word_embeddings', False),
        'max_position_embeddings': j.get('max_position_embeddings', 2048),
        'qkv_bias': j.get('model_type') == 'qwen2',
    }


# ------------------------------------------------------------------------------------------------

def build_model(config_json):
    """The model a config.json describes (model_type gpt2 or absent: GPT-2; llama, qwen2: the rotary decoder), weights uninitialised."""
    kind = config_json.get('model_type', 'gpt2')
    if kind == 'gpt2':
        return GPT2(gpt2_config(config_json))
    if kind in ('llama', 'qwen2'):
        return Llama(llama_config(config_json))
    raise ValueError(f'config.json: model_type {kind!r} is not supported (gpt2, llama, qwen2)')


def positions_of(model):
    return model.cfg['n_positions'] if isinstance(model, GPT2) else model.cfg['max_position_embeddings']


def use_fused_attention(model, on):
    for m in model.modules():
        if isinstance(m, (GPT2Attention, LlamaAttention)):
            m.fused = on


def loss_of(logits, targets):
    """Mean next-token cross-entropy in nats over targets >= 0 (the TS engine's -1: no target), in fp32."""
    return F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-1)
