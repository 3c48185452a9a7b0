#!/usr/bin/env bash
# Builds the carry bundle for scripts/device/gpu-bench.sh, for a borrowed GPU machine that has no
# network and no Node: .device/ holds
#   node.xz        this machine's node binary, xz-compressed
#   app.tar.xz     dist/cli.js and the wasm binaries beside it (tfjs and its webgpu backend are bundled
#                  inside cli.js), and node_modules/webgpu (Dawn's dawn.node for linux-x64)
#   debs/          the Vulkan loader (libvulkan1), unpacked there with dpkg -x
#   torch_peer.py  the PyTorch peer (../shared/bench/torch_peer.py), for when shared/ is not carried
# and refuses a bundle of 64 MiB or more (what a device run carries).
set -euo pipefail
cd "$(dirname "$0")/../.."

out=.device
limit=$((64 * 2 ** 20))
node_bin=$(command -v node)
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
[[ -f "$dawn" ]] || { echo "pack: $dawn is missing (the optional webgpu package is not installed)" >&2; exit 1; }

node scripts/build.mjs
rm -rf "$out"
mkdir -p "$out/debs"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

mkdir -p "$stage/app/dist" "$stage/app/node_modules/webgpu/dist/linux-x64"
cp dist/cli.js dist/*.wasm "$stage/app/dist/"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$stage/app/node_modules/webgpu/"
cp "$dawn" "$stage/app/node_modules/webgpu/dist/linux-x64/"
tar -C "$stage" -cf - app | xz -T0 -6 >"$out/app.tar.xz"
xz -T0 -6 -c "$node_bin" >"$out/node.xz"

# The loader only: the GPU machine brings its driver (the ICD that VK_DRIVER_FILES names).
(cd "$out/debs" && apt-get download -o APT::Sandbox::User=root libvulkan1 >/dev/null)

peer=../shared/bench/torch_peer.py
if [[ -f "$peer" ]]; then cp "$peer" "$out/torch_peer.py"; fi

size=$(du -sb "$out" | cut -f1)
echo "pack: $out holds $((size / 2 ** 20)) MiB (node $("$node_bin" --version), $(ls "$out/debs"))" >&2
if ((size >= limit)); then
  echo "pack: $out is $size bytes, over the 64 MiB a device run carries" >&2
  exit 1
fi
