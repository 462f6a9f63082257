"""Optional fused CPU kernels for RepOps programs (docs/repops.md, "Native CPU kernels").

The C++ source (kernels.cpp) is compiled once with torch.utils.cpp_extension.load_inline and
cached under TORCH_EXTENSIONS_DIR (default ~/.cache/swarm/torch_extensions), so later runs
load it in about a second. Every kernel computes the same scalar program as its torch twin
in repops.ops.kernels, so the bits are the same with or without it; it only saves passes.

`module()` returns the loaded extension, or None when it is disabled (SWARM_REPOPS_NATIVE=0,
or `use(False)`), or when it could not be built (no compiler, no ninja): a build failure is
logged once and the torch programs are used. Never raises.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import torch

log = logging.getLogger(__name__)

# Flags: -O2 optimises, but -ffp-contract=off forbids fusing a*b+c into an FMA (one rounding
# instead of two) and -fno-fast-math keeps every IEEE rule (no reassociation, no reciprocal
# division, subnormals and signed zeros honoured): each C++ operation is then exactly one
# correctly rounded binary32/binary64 operation, as in the torch program. Nothing like
# -ffast-math, -Ofast, -funsafe-math-optimizations or -march=native may be added.
# -fvect-cost-model=dynamic lets -O2's vectoriser take loops that need a run-time overlap
# check (the grid, narrowing and tree levels): a SIMD lane does the same single IEEE
# operation as the scalar code, and GCC never vectorises a floating-point reduction (which
# would reorder it) without -fassociative-math, so the bits are unchanged.
CFLAGS = ["-O2", "-ffp-contract=off", "-fno-fast-math", "-ftree-vectorize", "-fvect-cost-model=dynamic"]
SOURCE = Path(__file__).with_name("kernels.cpp")
FUNCTIONS = ["to_grid", "narrow_plus_zero", "set_constants", "softmax_rows", "tree_sum_2d",
             "set_gelu_constants", "gelu_forward", "gelu_backward"]

_state: dict[str, object] = {"loaded": False, "module": None}
_override: list[bool] = []
_build_lock = threading.Lock()


def _env_enabled() -> bool:
    return os.environ.get("SWARM_REPOPS_NATIVE", "1").strip().lower() not in ("0", "off", "false", "no")


def _build():
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(Path.home() / ".cache" / "swarm" / "torch_extensions"))
    if shutil.which("ninja") is None:
        # the PyPI ninja package's binary sits in the venv, which is not on PATH unless the
        # venv is activated; torch's builder looks for `ninja` on PATH
        try:
            import ninja

            os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + os.environ.get("PATH", "")
        except (ImportError, AttributeError):
            pass  # the build then fails and is reported once
    from torch.utils.cpp_extension import load_inline

    # The name carries a digest of everything that shapes the binary, so a cached build of
    # older source (or of other flags) is never loaded in its place.
    text = SOURCE.read_text()
    digest = hashlib.sha256("\n".join([text, *FUNCTIONS, *CFLAGS, torch.__version__]).encode()).hexdigest()[:16]
    mod = load_inline(
        name=f"swarm_repops_native_{digest}",
        cpp_sources=[text],
        functions=FUNCTIONS,
        extra_cflags=CFLAGS,
        verbose=False,
    )
    from repops.ops import kernels as K

    mod.set_constants(
        torch.tensor(K.EXP_TABLE, dtype=torch.float64).view(torch.int64),
        torch.tensor(K.EXP_POLY, dtype=torch.float64),
        torch.tensor(K.LOG_COEFFS, dtype=torch.float64),
    )
    mod.set_gelu_constants(torch.tensor([K.GELU_C0, K.GELU_C1, 3 * K.GELU_C1, 2 * K.GELU_C0], dtype=torch.float64))
    return mod


def load():
    """The compiled extension (building it on first call), or None if it cannot be built."""
    if _state["loaded"]:
        return _state["module"]
    with _build_lock:  # torch runs ops from worker threads too (trio.to_thread): build once
        if _state["loaded"]:
            return _state["module"]
        try:
            _state["module"] = _build()
            log.info("repops: native CPU kernels in use (%s)", SOURCE.name)
        except (RuntimeError, OSError, ImportError, AttributeError, subprocess.CalledProcessError) as exc:
            log.warning("repops: native CPU kernels unavailable, using the torch programs: %s", str(exc)[:500])
        _state["loaded"] = True
    return _state["module"]


def module():
    """The extension when native kernels are enabled and built, else None."""
    enabled = _override[-1] if _override else _env_enabled()
    if not enabled:
        if not _state.get("logged_off"):
            _state["logged_off"] = True
            log.info("repops: native CPU kernels disabled, using the torch programs")
        return None
    return load()


@contextlib.contextmanager
def use(enabled: bool) -> Iterator[None]:
    """Force native kernels on or off inside the block (tests, benchmarks)."""
    _override.append(enabled)
    try:
        yield
    finally:
        _override.pop()


def native_cpu_f32(*xs: torch.Tensor):
    """The extension if every tensor is a CPU float32 tensor and native kernels are on."""
    for x in xs:
        if x.device.type != "cpu" or x.dtype != torch.float32:
            return None
    return module()
