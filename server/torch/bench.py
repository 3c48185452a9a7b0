"""`python3 -m server.torch bench`: the worker's own training step (train.py's Trainer.train_step: forward,
backward, clipping, AdamW) on fixed shapes with random tokens, timed; one JSON line per shape with
tokens/s and MFU. With --peer, the same shapes also run through ../shared/bench/torch_peer.py (a plain
nanoGPT-style PyTorch loop) in this call, so the two are compared on the same machine.

  --configs gpt2-small,llama-1b   GPT-2 small (L12 d768 h12 T1024, vocab 50304) and a 1B-class LLaMA
                                  (TinyLlama-1.1B's shape: L22 d2048 h32 kv4 ffn 5632, T2048, vocab 32000)
  --smoke                         tiny versions of both (CPU, seconds): what npm test runs
  --device cuda|cpu  --dtype bf16|fp32  --batch B  --steps N  --warmup N  --compile  --peer PATH
  --peak-tflops X                 the device's dense peak for MFU (default: known GPUs' bf16 peak)

MFU = achieved model FLOP/s over the peak: per token 6 x (parameters in matrix products) + 12 x
layers x attention width x T (PaLM's estimate; the causal half is not subtracted).
"""
import argparse
import json
import statistics
import subprocess
import sys

import torch

from .model import build_model
from .train import Trainer

SHAPES = {
    'gpt2-small': ({'model_type': 'gpt2', 'vocab_size': 50304, 'n_positions': 1024, 'n_embd': 768, 'n_layer': 12, 'n_head': 12}, 1024, 8),
    'llama-1b': ({'model_type': 'llama', 'vocab_size': 32000, 'hidden_size': 2048, 'intermediate_size': 5632, 'num_hidden_layers': 22,
                  'num_attention_heads': 32, 'num_key_value_heads': 4, 'max_position_embeddings': 2048}, 2048, 4),
}
SMOKE = {
    'gpt2-small': ({'model_type': 'gpt2', 'vocab_size': 512, 'n_positions': 64, 'n_embd': 64, 'n_layer': 2, 'n_head': 4}, 64, 2),
    'llama-1b': ({'model_type': 'llama', 'vocab_size': 512, 'hidden_size': 64, 'intermediate_size': 160, 'num_hidden_layers': 2,
                  'num_attention_heads': 4, 'num_key_value_heads': 2, 'max_position_embeddings': 64}, 64, 2),
}
# Dense bf16 peak FLOP/s by device name (vendor data sheets, SXM parts).
PEAKS = {'H200': 989e12, 'H100': 989e12, 'A100': 312e12}


def init_weights(model):
    """N(0, 0.02) matrices, unit norm gains, zero biases: a fresh model, as the TS engine initialises one."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 0.02)
            elif name.endswith('bias'):
                p.zero_()
            else:
                p.fill_(1.0)


def flops_per_token(cfg, T):
    """6 x matmul parameters + 12 x layers x attention width x T."""
    if cfg['model_type'] == 'gpt2':
        C, L, V = cfg['n_embd'], cfg['n_layer'], cfg['vocab_size']
        matmul = L * 12 * C * C + V * C
        width = C
    else:
        C, L, V, F = cfg['hidden_size'], cfg['num_hidden_layers'], cfg['vocab_size'], cfg['intermediate_size']
        D = C // cfg['num_attention_heads']
        kv = cfg['num_key_value_heads'] * D
        matmul = L * (2 * C * C + 2 * C * kv + 3 * C * F) + V * C
        width = C
    return 6 * matmul + 12 * L * width * T


def peak_of(device, override):
    if override:
        return override * 1e12
    if device.startswith('cuda'):
        name = torch.cuda.get_device_name(device)
        for key, peak in PEAKS.items():
            if key in name:
                return peak
    return None


def bench_worker(name, cfg, T, B, a):
    model = build_model(cfg)
    init_weights(model)
    steps = a.warmup + a.steps
    V = cfg['vocab_size']
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, V, (max(1 << 16, 4 * B * T),), generator=gen)
    starts = torch.randint(0, tokens.shape[0] - T - 1, (steps * B,), generator=gen)
    t = {'steps': steps, 'batchTokens': B * T, 'microBatch': B, 'blockSize': T, 'lr': 3e-4, 'minLr': 3e-5, 'warmup': 1,
         'weightDecay': 0.1, 'betas': [0.9, 0.95], 'gradClip': 1.0, 'evalEvery': 0, 'checkpointEvery': 0, 'seed': 0}
    data = {'train_tokens': tokens, 'val_tokens': tokens, 'train_starts': starts, 'val_starts': []}
    trainer = Trainer(t, model, cfg, data, device=a.device, bf16=a.dtype == 'bf16', checkpoint_dir=None, emit=lambda _: None, compile=a.compile)
    ms = []
    for i in range(steps):
        m = trainer.train_step()
        if i >= a.warmup:
            ms.append(1000 * B * T / m['tokensPerSec'])
    return result('inheritune-torch', name, cfg, T, B, statistics.median(ms), sum(p.numel() for p in model.parameters()), a)


def bench_peer(name, cfg, T, B, a):
    """The peer script on the GPT-2 form of the shape (its model is GPT-2-style only)."""
    C = cfg.get('n_embd', cfg.get('hidden_size'))
    L = cfg.get('n_layer', cfg.get('num_hidden_layers'))
    H = cfg.get('n_head', cfg.get('num_attention_heads'))
    args = [sys.executable, a.peer, '--layers', str(L), '--d', str(C), '--heads', str(H), '--seq', str(T), '--batch', str(B),
            '--vocab', str(cfg['vocab_size']), '--steps', str(a.steps), '--device', a.device.split(':')[0], '--dtype', a.dtype,
            '--threads', str(torch.get_num_threads())]
    if a.device.startswith('cuda') and hasattr(torch.nn.functional, 'scaled_dot_product_attention'):
        args.append('--fused-attention')
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    peer = json.loads(out)
    gpt2 = {'model_type': 'gpt2', 'n_embd': C, 'n_layer': L, 'vocab_size': cfg['vocab_size']}
    return result('peer', f'{name} (GPT-2 form)', gpt2, T, B, peer['ms_per_step'], None, a)


def result(engine, name, cfg, T, B, ms, params, a):
    tokens_per_s = 1000 * B * T / ms
    peak = peak_of(a.device, a.peak_tflops)
    mfu = tokens_per_s * flops_per_token(cfg, T) / peak if peak else None
    return {'engine': engine, 'config': name, 'device': a.device, 'dtype': a.dtype, 'params': params, 'batch': B, 'seq': T,
            'ms_per_step': round(ms, 3), 'tokens_per_s': round(tokens_per_s, 1), 'mfu': None if mfu is None else round(mfu, 4)}


def main(argv):
    p = argparse.ArgumentParser(prog='python3 -m server.torch bench')
    p.add_argument('--configs', default='gpt2-small,llama-1b')
    p.add_argument('--smoke', action='store_true')
    p.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    p.add_argument('--dtype', choices=['fp32', 'bf16'])
    p.add_argument('--batch', type=int)
    p.add_argument('--steps', type=int)
    p.add_argument('--warmup', type=int)
    p.add_argument('--compile', action='store_true')
    p.add_argument('--peer')
    p.add_argument('--peak-tflops', type=float)
    a = p.parse_args(argv)
    a.dtype = a.dtype or ('bf16' if a.device.startswith('cuda') else 'fp32')
    a.steps = a.steps or (2 if a.smoke else 10)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.smoke else 3)
    if a.compile and not hasattr(torch, 'compile'):
        raise SystemExit(f'--compile needs torch >= 2.0 (this is {torch.__version__})')
    shapes = SMOKE if a.smoke else SHAPES
    for name in a.configs.split(','):
        if name not in shapes:
            raise SystemExit(f'--configs: unknown shape {name!r}; known: {", ".join(shapes)}')
        cfg, T, B = shapes[name]
        B = a.batch or B
        label = f'{name}-smoke' if a.smoke else name
        print(json.dumps(bench_worker(label, cfg, T, B, a)), flush=True)
        if a.peer:
            print(json.dumps(bench_peer(label, cfg, T, B, a)), flush=True)
        if a.device.startswith('cuda'):
            torch.cuda.empty_cache()
    return 0
