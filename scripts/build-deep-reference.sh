#!/usr/bin/env bash
# Issue 17 item 5: a deeper byte-level reference, to look for lazy (rank-1) attention layers, which
# the paper finds in the deep half of deep GPT-2 models and the shipped 8-layer reference does not show.
# 24 layers, d 64, 4 heads, no biases, attention logits divided by (layer index + 1) as in the paper's
# nanoGPT runs, trained with `inheritune pretrain` (native kernels) on examples/data, then measured
# with `inheritune analyze` (MaxRank per layer; lazy = 1). Resumable: run it again to continue.
# STEPS (default 600) x 2,048 tokens; on 2 shared cores budget roughly 1-2 s a step.
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS="${STEPS:-600}"
OUT="${OUT:-.inheritune/deep-reference.model}"
node dist/cli.js pretrain \
  --data examples/data/train.jsonl --val examples/data/val.jsonl --tokenizer bytes \
  --layers 24 --d-model 64 --heads 4 --positions 128 --block-size 64 --no-bias --scale-attn-by-inverse-layer-idx \
  --steps "$STEPS" --batch-tokens 2048 --micro-batch 8 --lr 2e-3 --min-lr 2e-4 --warmup 30 \
  --eval-every 100 --eval-windows 64 --checkpoint-every 50 --seed 1 \
  --checkpoint-dir .inheritune/deep-reference.checkpoint --resume \
  --out "$OUT" --force
# The paper's inputs: 100 random windows of 100 tokens from the validation split (the model has 128 positions).
node dist/cli.js analyze "$OUT" --data examples/data/val.jsonl --tokenizer bytes --sequences 100 --seq-len 100 --windows random --seed 1 --json \
  > "$OUT.analysis.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const l of r.layers) console.log(`layer ${l.layer + 1}: MaxRank ${l.maxRank.toFixed(2)}${l.lazy ? "  (lazy)" : ""}`);
' "$OUT.analysis.json"
