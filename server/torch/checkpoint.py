"""Training checkpoints in the format of server/engine/train/checkpoint.ts, so either engine resumes the
other's: a folder holding config.json + model.safetensors (an HF model directory) +
optimizer.safetensors (AdamW moments `m.<param>`, `v.<param>`) + trainer.json (format, step,
dataPosition, optimizerUpdates, train). Written whole into a temporary sibling and swapped in, as
fsAtomic.ts's writeDirAtomic does, so a kill never leaves a half-written checkpoint."""
import json
import os
import random
import shutil

from .safetensors_io import read_model_weights, read_safetensors, write_safetensors

CHECKPOINT_FORMAT = 'inheritune-train-checkpoint-1'
STATE_FILE = 'trainer.json'


def is_checkpoint(d):
    return os.path.exists(os.path.join(d, STATE_FILE))


def _fsync(p):
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_checkpoint(d, config_json, weights, moments, step, data_position, updates, train):
    """weights: [(name, tensor)] in checkpoint order; moments: {name: (m, v)}."""
    d = os.path.abspath(d)
    parent, base = os.path.dirname(d), os.path.basename(d)
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f'.{base}.tmp-{os.getpid()}-{random.getrandbits(32):08x}')
    old = tmp + '.old'
    os.mkdir(tmp)
    try:
        with open(os.path.join(tmp, 'config.json'), 'w', encoding='utf-8') as f:
            json.dump(config_json, f, indent=2)
        write_safetensors(os.path.join(tmp, 'model.safetensors'), weights, {'format': 'pt'})
        names = [n for n, _ in weights]
        write_safetensors(os.path.join(tmp, 'optimizer.safetensors'),
                          [(f'm.{n}', moments[n][0]) for n in names] + [(f'v.{n}', moments[n][1]) for n in names])
        state = {'format': CHECKPOINT_FORMAT, 'step': step, 'dataPosition': data_position, 'optimizerUpdates': updates, 'train': train}
        with open(os.path.join(tmp, STATE_FILE), 'w', encoding='utf-8') as f:
            json.dump(state, f, indent=2)
        for name in os.listdir(tmp):
            _fsync(os.path.join(tmp, name))
        if os.path.exists(d):
            os.rename(d, old)
        os.rename(tmp, d)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(old) and not os.path.exists(d):
            os.rename(old, d)
        raise
    shutil.rmtree(old, ignore_errors=True)


def read_checkpoint(d):
    """(config_json, weights {name: tensor}, moments {name: (m, v)}, state dict of trainer.json)."""
    with open(os.path.join(d, STATE_FILE), encoding='utf-8') as f:
        state = json.load(f)
    if not isinstance(state, dict) or state.get('format') != CHECKPOINT_FORMAT:
        raise ValueError(f'{d}/{STATE_FILE}: not a training checkpoint of this version (expected format "{CHECKPOINT_FORMAT}")')
    for key in ('step', 'dataPosition', 'optimizerUpdates'):
        if not isinstance(state.get(key), int) or state[key] < 0:
            raise ValueError(f'{d}/{STATE_FILE}: field "{key}" must be a non-negative integer')
    with open(os.path.join(d, 'config.json'), encoding='utf-8') as f:
        config_json = json.load(f)
    weights = read_model_weights(d)
    opt = read_safetensors(os.path.join(d, 'optimizer.safetensors'))
    moments = {}
    for n in weights:
        if f'm.{n}' not in opt or f'v.{n}' not in opt:
            raise ValueError(f'{d}/optimizer.safetensors: missing optimizer tensor "m.{n}" or "v.{n}"')
        moments[n] = (opt[f'm.{n}'], opt[f'v.{n}'])
    return config_json, weights, moments, state
