#!/usr/bin/env bash
# Installs the anvil Ethereum node from npm (@foundry-rs/anvil ships its binary) into
# .cache/anvil, for the chain tests and `swarm chain up --backend anvil`. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=${SWARM_ANVIL_PREFIX:-.cache/anvil}
VERSION=${SWARM_ANVIL_VERSION:-1.7.1}
if [ -x "$PREFIX/node_modules/.bin/anvil" ] && "$PREFIX/node_modules/.bin/anvil" --version >/dev/null 2>&1; then exit 0; fi
command -v npm >/dev/null || { echo "install-anvil: npm not found (install Node.js 20+)" >&2; exit 1; }
mkdir -p "$PREFIX"
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error "@foundry-rs/anvil@$VERSION" >&2
"$PREFIX/node_modules/.bin/anvil" --version >&2
