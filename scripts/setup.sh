#!/usr/bin/env bash
# Creates .venv with everything swarm needs, on a fresh Debian machine like CI's.
# Idempotent: re-runs only when pyproject.toml changed since the last successful set-up.
set -euo pipefail
cd "$(dirname "$0")/.."
# anvil (npm @foundry-rs/anvil) for the chain tests; idempotent and quick once installed.
bash scripts/install-anvil.sh || echo "setup: installing anvil from npm failed; the anvil chain test will fail" >&2
VENV=${SWARM_VENV:-.venv}
STAMP="$VENV/.setup-stamp"
want=$(sha256sum pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
# Byte-compile our sources: where PYTHONDONTWRITEBYTECODE is set (it is on CI-class machines),
# every peer process and test subprocess would otherwise recompile them (~3 s of CPU each).
# compileall skips files whose .pyc is current, so this is quick on every run after the first.
compile_sources() {
  "$VENV/bin/python" -m compileall -q swarmclient protocol repops verde >/dev/null || true
  # RepOps' fused CPU kernels (C++, docs/repops.md "Native CPU kernels"): build them here, once,
  # rather than in a peer's first matmul (30-90 s); a cached build loads in about a second, and
  # a failed build only means the (slower, same-bits) torch programs are used.
  "$VENV/bin/python" -c 'from repops.ops import native; import sys; sys.exit(native.module() is None)' >/dev/null 2>&1 \
    || echo "setup: RepOps native kernels unavailable (no C++ compiler?); using the torch programs" >&2
}
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then compile_sources; exit 0; fi

# Debian packages: libgmp-dev because fastecdsa (a libp2p dependency) builds from source
# against GMP; tmux because a test drives `swarm top` in a real terminal.
missing=()
for pkg in libgmp-dev tmux; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]} with apt" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "setup: Python 3.11+ needed" >&2; exit 1; }
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
# torch first and pinned: the CPU wheel. An unpinned torch would pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install -q "torch==2.13.0"
"$VENV/bin/python" -m pip install -q -e ".[dev]"
compile_sources
echo "$want" > "$STAMP"
echo "setup: ready ($VENV)" >&2
