#!/usr/bin/env bash
# The torch engine's training step beside the PyTorch peer (../shared/bench/torch_peer.py), in one call:
# tokens/s and MFU for GPT-2 small (L12 d768 h12 T1024) and a 1B-class LLaMA (L22 d2048 h32 kv4 T2048),
# bf16 autocast, fused attention and fused AdamW on a GPU.
#
#   scripts/device/torch-bench.sh [--smoke] [extra bench options, e.g. --compile --batch 16]
#
# --smoke: tiny shapes on the CPU in seconds (npm test runs it). PYTHON picks the interpreter (default
# python3); PEER the peer script (default ../shared/bench/torch_peer.py, then shared/bench/torch_peer.py;
# the peer is skipped with a note when neither exists).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
PEER=${PEER:-}
if [ -z "$PEER" ]; then
  for p in ../shared/bench/torch_peer.py shared/bench/torch_peer.py; do
    if [ -f "$p" ]; then PEER=$p; break; fi
  done
fi
peer=()
if [ -n "$PEER" ]; then peer=(--peer "$PEER"); else echo "note: no torch_peer.py found (set PEER); the peer is skipped" >&2; fi
if [ "${1:-}" = "--smoke" ]; then
  shift
  exec env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m server.torch bench --smoke --device cpu "${peer[@]}" "$@"
fi
"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else "torch-bench: no CUDA device; use --smoke on a CPU")'
exec env PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -m server.torch bench --device cuda --dtype bf16 "${peer[@]}" "$@"
