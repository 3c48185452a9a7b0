"""The training loop of server/engine/train/trainer.ts for one model, in PyTorch: AdamW with decoupled
weight decay on matrices only, linear warm-up + cosine decay (schedule.ts), gradient accumulation up
to batch_tokens, clipping by global norm (gradients.ts), evaluation on fixed windows (evaluate.ts),
checkpoints in the TS format (checkpoint.py). The windows come from the TS side (train_starts: the
exact window order; val_starts), so both engines see the same data in the same order.

Distributed (torchrun, one process per device): the micro-batches of a step are dealt out to the
ranks (rank r takes micro-batches r, r + world, ...), gradients and loss sums are summed with
all_reduce, so the effective batch and the update equal the single-process run's. Only rank 0 prints
events and writes checkpoints.
"""
import json
import math
import os
import time

import torch

from .checkpoint import is_checkpoint, read_checkpoint, write_checkpoint
from .model import HAS_SDPA, build_model, loss_of, positions_of, use_fused_attention
from .safetensors_io import read_model_weights


class TrainingError(Exception):
    """Bad input or a diverged run: reported as an error line naming the cause, never retried."""


def learning_rate(step, t):
    """schedule.ts: linear warm-up, then cosine decay to min_lr at the last step."""
    lr, min_lr, warmup, steps = t['lr'], t['minLr'], t['warmup'], t['steps']
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= steps:
        return min_lr
    ratio = (step - warmup) / max(1, steps - warmup)
    return min_lr + 0.5 * (1 + math.cos(math.pi * ratio)) * (lr - min_lr)


def read_tokens(path, dtype):
    """A token file as int64: uint16 (nanoGPT .bin) or uint32, little-endian."""
    size = os.path.getsize(path)
    if dtype == 'uint16':
        raw = torch.from_file(path, shared=False, size=size // 2, dtype=torch.int16)
        return raw.to(torch.int64) & 0xFFFF
    if dtype == 'uint32':
        raw = torch.from_file(path, shared=False, size=size // 4, dtype=torch.int32)
        return raw.to(torch.int64) & 0xFFFFFFFF
    raise TrainingError(f'job: token dtype {dtype!r} is not uint16 or uint32')


def make_batch(tokens, starts, T):
    """windows.ts's makeBatch: inputs tokens[s..s+T-1], targets shifted by one, -1 past the end."""
    idx = torch.as_tensor(starts, dtype=torch.int64)[:, None] + torch.arange(T + 1)[None, :]
    n = tokens.shape[0]
    window = tokens[idx.clamp(max=n - 1)]
    window[idx >= n] = -1
    return window[:, :T], window[:, 1:]


def canonical_weights(model, stored, source):
    """The model's state_dict from stored HF tensors: `transformer.` prefixes and non-weight buffers
    (GPT-2's attn.bias masks, LLaMA's rotary inv_freq, a tied model's head copy) are dropped."""
    want = model.state_dict()
    out = {}
    for key, t in stored.items():
        name = key[len('transformer.'):] if key.startswith('transformer.') else key
        if name in want:
            out[name] = t
    missing = [n for n in want if n not in out]
    if missing:
        raise TrainingError(f'{source}: missing weights {", ".join(missing[:3])}{" ..." if len(missing) > 3 else ""}')
    for n, t in out.items():
        if list(t.shape) != list(want[n].shape):
            raise TrainingError(f'{source}: weight {n} has shape {list(t.shape)}, the config says {list(want[n].shape)}')
    return out


def trainer_from_job(job, emit, dist=None):
    """A Trainer for a job file's task: the checkpoint in job.checkpointDir when resuming, else the
    model folder job.initDir; the token files and window order the TS side wrote."""
    t = job['train']
    ckpt = job['checkpointDir']
    resuming = job.get('resume', False) and is_checkpoint(ckpt)
    if resuming:
        config_json, stored, moments, state = read_checkpoint(ckpt)
        resume = (moments, state['optimizerUpdates'], state['step'], state['dataPosition'])
    else:
        with open(os.path.join(job['initDir'], 'config.json'), encoding='utf-8') as f:
            config_json = json.load(f)
        stored, resume = read_model_weights(job['initDir']), None
    model = build_model(config_json)
    if t['blockSize'] > positions_of(model):
        raise TrainingError(f'train.block_size: {t["blockSize"]} exceeds the model\'s {positions_of(model)} positions')
    model.load_state_dict(canonical_weights(model, stored, ckpt if resuming else job['initDir']))
    n_starts = os.path.getsize(job['trainStarts']) // 8
    data = {
        'train_tokens': read_tokens(job['trainTokens'], job['tokenDtype']),
        'val_tokens': read_tokens(job['valTokens'], job['tokenDtype']),
        'train_starts': torch.from_file(job['trainStarts'], shared=False, size=n_starts, dtype=torch.int64),
        'val_starts': job['valStarts'],
    }
    return Trainer(t, model, config_json, data, device=job.get('device', 'cpu'), bf16=job.get('precision', 'fp32') == 'bf16',
                   checkpoint_dir=ckpt, emit=emit, dist=dist, resume=resume)


class Trainer:
    def __init__(self, t, model, config_json, data, *, device, bf16, checkpoint_dir, emit, dist=None, compile=False, resume=None):
        """t: the train settings (TrainConfig's fields); model: weights loaded; data: train_tokens,
        val_tokens (int64), train_starts (int64, the window order), val_starts; dist: (rank, world)
        under torchrun; resume: (moments, optimizer updates, step, data position) of a checkpoint."""
        self.t = t
        self.emit = emit
        self.dist = dist
        self.rank, self.world = dist if dist else (0, 1)
        self.device = torch.device(device)
        self.bf16 = bf16
        self.checkpoint_dir = checkpoint_dir
        self.config_json = config_json
        per_micro = t['microBatch'] * t['blockSize']
        self.accum = t['batchTokens'] // per_micro
        if self.accum * per_micro != t['batchTokens'] or self.accum < 1:
            raise TrainingError(f'train.batch_tokens: {t["batchTokens"]} is not a positive multiple of micro_batch x block_size = {per_micro}')
        if self.accum % self.world:
            raise TrainingError(f'runtime.nproc: the {self.accum} micro-batches of a step (batch_tokens / (micro_batch x block_size)) must divide evenly among {self.world} processes')
        self.model = model.to(self.device)
        # Fused attention only on GPUs: on the CPU results stay equal to the TS engine's.
        use_fused_attention(self.model, self.device.type == 'cuda' and HAS_SDPA)
        self.names = list(self.model.state_dict().keys())
        self.params = dict(self.model.named_parameters())
        self.optimizer = self._make_optimizer()
        self.step = 0
        self.position = 0
        if resume:
            moments, updates, self.step, self.position = resume
            self._load_optimizer(moments, updates)
        self.train_tokens = data['train_tokens']
        self.val_tokens = data['val_tokens']
        self.train_starts = data['train_starts']
        self.val_starts = data['val_starts']
        need = t['steps'] * self.accum * t['microBatch']
        if self.train_starts.shape[0] < need:
            raise TrainingError(f'job: {self.train_starts.shape[0]} training windows given, the run needs {need}')
        self.model_run = torch.compile(self.model) if compile and hasattr(torch, 'compile') else self.model

    def _make_optimizer(self):
        decay = [p for p in self.params.values() if p.dim() >= 2]
        rest = [p for p in self.params.values() if p.dim() < 2]
        groups = [{'params': decay, 'weight_decay': self.t['weightDecay']}, {'params': rest, 'weight_decay': 0.0}]
        kwargs = {'lr': self.t['lr'], 'betas': tuple(self.t['betas']), 'eps': 1e-8}
        # The fused CUDA kernel where there is one (torch >= 2.0); its arithmetic is AdamW's.
        if self.device.type == 'cuda' and 'fused' in torch.optim.AdamW.__init__.__code__.co_varnames:
            kwargs['fused'] = True
        return torch.optim.AdamW(groups, **kwargs)

    def _load_optimizer(self, moments, updates):
        fused = self.optimizer.defaults.get('fused', False)
        for name, p in self.params.items():
            m, v = moments[name]
            step = torch.tensor(float(updates), device=p.device if fused else 'cpu')
            self.optimizer.state[p] = {'step': step, 'exp_avg': m.to(self.device).clone(), 'exp_avg_sq': v.to(self.device).clone()}

    def _moments(self):
        out = {}
        for name in self.names:
            p = self.params[name]
            s = self.optimizer.state.get(p)
            out[name] = (s['exp_avg'], s['exp_avg_sq']) if s else (torch.zeros_like(p), torch.zeros_like(p))
        return out

    def _updates(self):
        for p in self.params.values():
            s = self.optimizer.state.get(p)
            if s:
                return int(float(s['step']))
        return 0

    def _autocast(self):
        if self.bf16:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return _NullContext()

    def _all_reduce(self, tensor):
        if self.dist:
            torch.distributed.all_reduce(tensor)
        return tensor

    def train_step(self):
        t0 = time.perf_counter()
        B, T = self.t['microBatch'], self.t['blockSize']
        self.optimizer.zero_grad(set_to_none=True)
        # Summed in float64 like the TS engine's JavaScript numbers; read back once a step.
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        for k in range(self.rank, self.accum, self.world):
            at = self.position + k * B
            x, y = make_batch(self.train_tokens, self.train_starts[at:at + B], T)
            with self._autocast():
                loss = loss_of(self.model_run(x.to(self.device)), y.to(self.device))
            # train.accumulate: mean (default) averages the micro-batches' gradients, sum adds them (the authors' code).
            (loss if self.t.get('accumulate') == 'sum' else loss / self.accum).backward()
            loss_sum += loss.detach().double()
        self.position += self.accum * B
        grads = [p.grad for p in self.params.values()]
        if self.dist:
            for g in grads:
                torch.distributed.all_reduce(g)
            self._all_reduce(loss_sum)
        loss_sum = float(loss_sum)
        # gradients.ts: the global L2 norm before clipping; scaled by max/(norm + 1e-6) when above max.
        norm = float(torch.sqrt(sum((g.float() ** 2).sum() for g in grads)))
        clip = self.t['gradClip']
        if not math.isfinite(loss_sum) or not math.isfinite(norm):
            what = f'the gradient norm became {norm}' if math.isfinite(loss_sum) else f'the training loss became {loss_sum / self.accum}'
            raise TrainingError(f'training: {what} at step {self.step + 1}: training diverged; lower the learning rate (now {self.t["lr"]}) or clip the gradients (train.grad_clip, --grad-clip)')
        if clip > 0 and norm > clip:
            for g in grads:
                g.mul_(clip / (norm + 1e-6))
        lr = learning_rate(self.step, self.t)
        for group in self.optimizer.param_groups:
            group['lr'] = lr
        self.optimizer.step()
        self.step += 1
        if self.device.type == 'cuda':
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        tokens = self.t['batchTokens']
        out = {'step': self.step, 'trainLoss': loss_sum / self.accum, 'lr': lr, 'gradNorm': norm,
               'tokensPerSec': tokens / seconds, 'tokensSeen': self.step * tokens}
        if self.device.type == 'cuda':
            # The dashboard's GPU memory: the peak this process allocated on its device.
            out['memoryBytes'] = int(torch.cuda.max_memory_allocated(self.device))
        return out

    @torch.no_grad()
    def evaluate(self):
        """evaluate.ts: mean over windows of each micro-batch's mean loss weighted by its window count."""
        B, T = self.t['microBatch'], self.t['blockSize']
        total = torch.zeros((), dtype=torch.float64)
        chunks = [self.val_starts[i:i + B] for i in range(0, len(self.val_starts), B)]
        for chunk in chunks[self.rank::self.world]:
            x, y = make_batch(self.val_tokens, chunk, T)
            with self._autocast():
                loss = loss_of(self.model_run(x.to(self.device)), y.to(self.device))
            total += float(loss) * len(chunk)
        val = float(self._all_reduce(total)) / len(self.val_starts)
        if not math.isfinite(val):
            raise TrainingError(f"evaluation: the validation loss is {val}: the model's weights hold NaN or infinite values")
        return val

    def save(self):
        if self.rank == 0:
            weights = [(n, self.model.state_dict()[n]) for n in self.names]
            write_checkpoint(self.checkpoint_dir, self.config_json, weights, self._moments(), self.step,
                             self.position, self._updates(), self.t)
            self.emit({'type': 'checkpoint', 'step': self.step, 'dir': self.checkpoint_dir})
        if self.dist:
            torch.distributed.barrier()

    def run(self, stop_requested):
        """Trains to train.steps or until stop_requested() at a step boundary; returns the done line."""
        t = self.t
        val = None
        while self.step < t['steps']:
            if stop_requested():
                self.save()
                return {'type': 'done', 'step': self.step, 'valLoss': val, 'interrupted': True}
            self.emit({'type': 'metrics', **self.train_step()})
            last = self.step == t['steps']
            if last or (t['evalEvery'] > 0 and self.step % t['evalEvery'] == 0):
                val = self.evaluate()
                self.emit({'type': 'eval', 'step': self.step, 'valLoss': val})
            if last or (t['checkpointEvery'] > 0 and self.step % t['checkpointEvery'] == 0):
                self.save()
        return {'type': 'done', 'step': self.step, 'valLoss': val, 'interrupted': False}


class _NullContext:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
