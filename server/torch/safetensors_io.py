"""safetensors read and write with the standard library and torch only (no safetensors package), in the
layout server/engine/safetensors.ts writes: an 8-byte little-endian header length, a JSON header
padded with spaces to a multiple of 8, then the tensors' bytes in header order."""
import json
import os
import struct

import torch

_READ_DTYPES = {'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16, 'F64': torch.float64}


def read_safetensors(path):
    """{name: float32 tensor} of every tensor in the file (F32, F16, BF16 and F64 are converted)."""
    with open(path, 'rb') as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f'{path}: not a safetensors file (shorter than its header length)')
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n].decode('utf-8'))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        dtype = _READ_DTYPES.get(info['dtype'])
        if dtype is None:
            raise ValueError(f'{path}: tensor {name!r} has dtype {info["dtype"]}; supported: {", ".join(_READ_DTYPES)}')
        start, end = info['data_offsets']
        buf = bytearray(raw[base + start:base + end])
        t = torch.frombuffer(buf, dtype=dtype) if buf else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info['shape']).to(torch.float32)
    return out


def read_model_weights(model_dir):
    """A model folder's weights: model.safetensors, or the shards listed in model.safetensors.index.json."""
    index = os.path.join(model_dir, 'model.safetensors.index.json')
    if not os.path.exists(index):
        return read_safetensors(os.path.join(model_dir, 'model.safetensors'))
    with open(index, encoding='utf-8') as f:
        shards = sorted(set(json.load(f)['weight_map'].values()))
    out = {}
    for shard in shards:
        out.update(read_safetensors(os.path.join(model_dir, shard)))
    return out


def f32_bytes(t):
    """Little-endian float32 bytes of a tensor, through a bytearray (no numpy in the product)."""
    flat = t.detach().to('cpu', torch.float32).contiguous().reshape(-1)
    out = bytearray(flat.numel() * 4)
    if flat.numel():
        torch.frombuffer(out, dtype=torch.float32).copy_(flat)
    return bytes(out)


def write_safetensors(path, tensors, metadata=None):
    """tensors: [(name, tensor)], written as F32 in this order; fsynced."""
    header = {}
    if metadata is not None:
        header['__metadata__'] = metadata
    blobs = []
    off = 0
    for name, t in tensors:
        data = f32_bytes(t)
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [off, off + len(data)]}
        off += len(data)
        blobs.append(data)
    hb = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hb += b' ' * ((8 - len(hb) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
