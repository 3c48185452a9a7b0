"""Issue 17 item 5: train a deep byte-level GPT-2 reference on the CPU with PyTorch (the product's own
model code, server/torch/model.py), to look for lazy attention layers; written as an HF folder that
`inheritune analyze` reads.

Shape: 24 layers, d 64, 4 heads, 128 positions, vocabulary 257 (bytes + EOT 256, the product's byte
tokenizer), no biases, attention logits divided by (layer index + 1) as in the paper's nanoGPT runs,
tied head. nanoGPT's recipe: N(0, 0.02) init, residual projections N(0, 0.02 / sqrt(2 L)), AdamW
(0.9, 0.95), weight decay 0.1 on matrices, linear warm-up then cosine, clip 1.0.

Run: /usr/bin/python3 scripts/deep_reference_torch.py --out DIR [--steps N] [--seconds S] [--threads T]
(scripts/build-deep-reference.sh runs it, then the analysis).
"""
import argparse
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))
from server.torch.model import build_model, loss_of  # noqa: E402
from server.torch.safetensors_io import write_safetensors  # noqa: E402

CONFIG = {
    'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': 257, 'n_positions': 128, 'n_ctx': 128,
    'n_embd': 64, 'n_layer': 24, 'n_head': 4, 'n_inner': None, 'activation_function': 'gelu_new',
    'layer_norm_epsilon': 1e-5, 'bias': False, 'scale_attn_by_inverse_layer_idx': True, 'tie_word_embeddings': True,
    'resid_pdrop': 0, 'embd_pdrop': 0, 'attn_pdrop': 0, 'initializer_range': 0.02, 'bos_token_id': 256, 'eos_token_id': 256,
    'torch_dtype': 'float32',
}


def byte_tokens(path):
    """The product's `bytes` tokenizer on a .jsonl file: each document's UTF-8 bytes, then EOT 256."""
    out = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            if line.strip():
                out.extend(json.loads(line)['text'].encode('utf-8'))
                out.append(256)
    return torch.tensor(out, dtype=torch.long)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', default='examples/data/train.jsonl')
    ap.add_argument('--val', default='examples/data/val.jsonl')
    ap.add_argument('--out', required=True)
    ap.add_argument('--steps', type=int, default=1500)
    ap.add_argument('--seconds', type=float, default=float('inf'), help='stop (and save) after this much wall time')
    ap.add_argument('--batch', type=int, default=32)
    ap.add_argument('--block', type=int, default=128, help='window length; the analysis reads 100-byte windows, so every position it reads is trained')
    ap.add_argument('--inverse-layer-scaling', type=int, choices=[0, 1], default=1, help='divide attention logits by layer index + 1 (1) or not (0, standard GPT-2)')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr', type=float, default=2e-4)
    ap.add_argument('--warmup', type=int, default=50)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    train, val = byte_tokens(a.data), byte_tokens(a.val)
    CONFIG['scale_attn_by_inverse_layer_idx'] = bool(a.inverse_layer_scaling)
    model = build_model(CONFIG)
    L = CONFIG['n_layer']
    for name, p in model.named_parameters():
        if p.dim() >= 2:
            std = 0.02 / math.sqrt(2 * L) if name.endswith('c_proj.weight') else 0.02
            torch.nn.init.normal_(p, 0.0, std)
        else:
            torch.nn.init.ones_(p)  # layer norm weights (no biases)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': rest, 'weight_decay': 0.0}], lr=a.lr, betas=(0.9, 0.95))
    g = torch.Generator().manual_seed(a.seed)

    def batch(tokens):
        s = torch.randint(0, len(tokens) - a.block - 1, (a.batch,), generator=g)
        x = torch.stack([tokens[i:i + a.block] for i in s.tolist()])
        y = torch.stack([tokens[i + 1:i + 1 + a.block] for i in s.tolist()])
        return x, y

    t0 = time.time()
    step = 0
    for step in range(1, a.steps + 1):
        lr = a.lr * step / a.warmup if step <= a.warmup else a.min_lr + 0.5 * (a.lr - a.min_lr) * (1 + math.cos(math.pi * (step - a.warmup) / max(1, a.steps - a.warmup)))
        for group in opt.param_groups:
            group['lr'] = lr
        x, y = batch(train)
        loss = loss_of(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == 1:
            print(f'step {step} loss {loss.item():.4f} lr {lr:.2e} {time.time() - t0:.0f}s', flush=True)
        if time.time() - t0 > a.seconds:
            break
    model.eval()
    with torch.no_grad():
        windows = (len(val) - 1) // a.block
        n = min(windows, 256)
        x = torch.stack([val[i * a.block:(i + 1) * a.block] for i in range(n)])
        y = torch.stack([val[i * a.block + 1:(i + 1) * a.block + 1] for i in range(n)])
        val_loss = loss_of(model(x), y).item()
    print(f'trained {step} steps ({time.time() - t0:.0f}s); val loss {val_loss:.4f} on {n} windows of {a.block} bytes', flush=True)
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, 'config.json'), 'w') as f:
        json.dump(CONFIG, f, indent=2)
    tensors = [(k, v) for k, v in model.state_dict().items() if not k.startswith('lm_head')]
    write_safetensors(os.path.join(a.out, 'model.safetensors'), tensors, {'format': 'pt', 'inheritune_deep_reference': f'steps={step}'})


if __name__ == '__main__':
    main()
