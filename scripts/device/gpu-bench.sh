#!/usr/bin/env bash
# `inheritune bench --backend webgpu` next to the PyTorch peer (torch_peer.py --device cuda) on a
# borrowed GPU machine with no network and no Node, from the bundle scripts/device/pack.sh built in
# .device/ (carried with the run). Prints one JSON line per shape on stdout:
#   {"shape":"L12,d768,h12,T128,B4,V50304","webgpu":{...bench JSON...},"torch":{...peer JSON...},"ratio":ours/torch}
# Shapes: GPT-2 small (L12 d768 h12 T128 B4 V50304) and a larger batch (B16).
#   --smoke   tiny shapes on whatever adapter there is (here: Mesa's lavapipe) and the peer on the
#             CPU when CUDA is absent: checks the whole path in a few minutes, measures nothing.
# Environment: VK_DRIVER_FILES (default: the NVIDIA ICD at /usr/local/nvidia/share/vulkan/icd.d/
# nvidia_icd.json when it exists), PYTHON (default python3), BENCH_STEPS (timed steps, default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
bundle=$root/.device
smoke=0
[[ "${1:-}" == "--smoke" ]] && smoke=1
[[ -f "$bundle/node.xz" && -f "$bundle/app.tar.xz" ]] || { echo "gpu-bench: $bundle lacks node.xz/app.tar.xz: run scripts/device/pack.sh first and carry .device" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "gpu-bench: $*" >&2; }

# Node and the app, unpacked.
xz -dc "$bundle/node.xz" >"$work/node"
chmod +x "$work/node"
tar -C "$work" -xJf "$bundle/app.tar.xz"
log "node $("$work/node" --version)"

# The Vulkan loader from the carried .deb files (dpkg -x, or ar + tar where dpkg is absent); the
# driver is the machine's own ICD.
mkdir -p "$work/vk"
for deb in "$bundle"/debs/*.deb; do
  if command -v dpkg >/dev/null; then
    dpkg -x "$deb" "$work/vk"
  else
    (cd "$work" && ar x "$deb" && tar -C "$work/vk" -xf data.tar.* && rm -f data.tar.* control.tar.* debian-binary)
  fi
done
export LD_LIBRARY_PATH="$work/vk/usr/lib/x86_64-linux-gnu:/usr/local/nvidia/lib64:/usr/local/nvidia/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z "${VK_DRIVER_FILES:-}" && -f "$nvidia_icd" ]]; then export VK_DRIVER_FILES=$nvidia_icd; fi
log "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset, the system ICDs}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >&2 || true

if ((smoke)); then
  shapes=(L2,d32,h2,T16,B2,V128 L2,d32,h2,T16,B8,V128)
  steps=${BENCH_STEPS:-2}
else
  shapes=(L12,d768,h12,T128,B4,V50304 L12,d768,h12,T128,B16,V50304)
  steps=${BENCH_STEPS:-5}
fi

python=${PYTHON:-python3}
peer=$root/../shared/bench/torch_peer.py
[[ -f "$peer" ]] || peer=$bundle/torch_peer.py
device=cuda
if ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  ((smoke)) || log "no CUDA torch under $python: the peer runs on the CPU"
  device=cpu
fi

# Prints the last line of a command's stdout if it is JSON, else {"error": ...} with its last stderr line.
json_of() {
  local out err rc=0
  out=$("$@" 2>"$work/err") || rc=$?
  local last=${out##*$'\n'}
  if ((rc == 0)) && [[ "$last" == \{* ]]; then
    printf '%s' "$last"
  else
    err=$(tail -n 1 "$work/err" | tr -d '"\\')
    printf '{"error":"exit %s: %s"}' "$rc" "$err"
  fi
}

for shape in "${shapes[@]}"; do
  ours=$(json_of "$work/node" "$work/app/dist/cli.js" bench --backend webgpu --shape "$shape" --steps "$steps" --warmup 1 --json)
  IFS=, read -r L d h T B V <<<"$shape"
  theirs=$(json_of "$python" "$peer" --layers "${L#L}" --d "${d#d}" --heads "${h#h}" --seq "${T#T}" --batch "${B#B}" --vocab "${V#V}" --steps "$steps" --device "$device")
  "$work/node" -e '
    const [shape, ours, theirs] = process.argv.slice(1);
    const a = JSON.parse(ours), b = JSON.parse(theirs);
    const ratio = a.tokens_per_s > 0 && b.tokens_per_s > 0 ? Math.round((a.tokens_per_s / b.tokens_per_s) * 1000) / 1000 : null;
    console.log(JSON.stringify({ shape, webgpu: a, torch: b, ratio }));
  ' "$shape" "$ours" "$theirs"
done
