#!/usr/bin/env bash
# Issue 17 item 5: a deeper byte-level reference, to look for lazy (rank-1) attention layers, which
# the paper finds in the deep half of deep GPT-2 models and the shipped 8-layer reference does not show.
# 24 layers, d 64, 4 heads, no biases, attention logits divided by (layer index + 1) as in the paper's
# nanoGPT runs, trained on examples/data by scripts/deep_reference_torch.py (PyTorch on the CPU, the
# product's own model code), then measured with `inheritune analyze` on the paper's inputs (100
# random windows of 100 bytes of the validation split): MaxRank per layer, lazy = 1.
# STEPS (default 1500) x 4,096 tokens (32 windows of 128), INVERSE_SCALING (default 1; 0: standard GPT-2 attention), SECONDS_LIMIT (default: none) caps the training wall time; THREADS (default 2); PYTHON: an interpreter with torch >= 1.13.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.inheritune/deep-reference}"
"${PYTHON:-python3}" scripts/deep_reference_torch.py --out "$OUT" --steps "${STEPS:-1500}" --seconds "${SECONDS_LIMIT:-inf}" --threads "${THREADS:-2}" --inverse-layer-scaling "${INVERSE_SCALING:-1}"
node dist/cli.js analyze "$OUT" --data examples/data/val.jsonl --tokenizer bytes --sequences 100 --seq-len 100 --windows random --seed 1 --json > "$OUT.analysis.json"
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(r.layers.map((l) => `layer ${l.layer + 1}: MaxRank ${l.maxRank.toFixed(2)}${l.lazy ? " (lazy)" : ""}`).join("\n"));
' "$OUT.analysis.json"
