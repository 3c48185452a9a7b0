#!/usr/bin/env bash
# Rebuilds the shipped demo reference model (examples/models/reference) from the shipped corpus:
# an 8-layer byte-level GPT-2 trained with `inheritune pretrain`. Takes tens of minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
node dist/cli.js pretrain \
  --data examples/data/train.jsonl --val examples/data/val.jsonl --tokenizer bytes \
  --layers 8 --d-model 128 --heads 4 --positions 128 --block-size 64 \
  --steps 300 --batch-tokens 2048 --micro-batch 8 --lr 2e-3 --min-lr 2e-4 --warmup 20 \
  --eval-every 100 --eval-windows 64 --checkpoint-every 50 --seed 1 \
  --checkpoint-dir .inheritune/reference.checkpoint --resume \
  --out .inheritune/reference.model --force "$@"
# The shipped folder also holds its README, which pretrain would not replace: copy the model in.
cp .inheritune/reference.model/config.json .inheritune/reference.model/model.safetensors examples/models/reference/
