"""What this machine can train: the device (cpu, cuda or mps via torch), its memory, and the
SAPO profile (model size, batch, generation length) that fits it.

The profile table (docs/architecture.md, "Joining"):

    profile  model (d_model x layers, context)  rollouts/round (tasks x G)  batch (I + J groups)  max_new
    micro    16 x 1, 32                          4 x 4                       2 + 2                 6
    tiny     32 x 2, 32                          8 x 4                       4 + 4                 10
    small    64 x 2, 32                          8 x 8                       4 + 4                 10
    base     128 x 4, 32                         16 x 8                      8 + 8                 10

`choose_profile` takes the largest profile the device allows whose memory need fits:
  - on a CPU at most `tiny`: RepOps runs the update many times slower than plain torch (every
    reduction in a fixed order), and a round must finish within its wall-clock slot;
  - on cuda/mps up to `base`;
  - need = PROCESS_BASELINE (Python, torch, libp2p, the chain client) + the update's estimate
    (sapo.policy.estimate_step_bytes, a generous bound); it must stay below `fraction` of the
    AVAILABLE memory (RAM, and on cuda the GPU's free memory for the update), so a laptop
    never swaps. Nothing fits: a SwarmError("memory") before anything starts.
torch is imported inside the functions: `swarm --help` must not pay for it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, replace
from typing import Any

import psutil

from swarmclient.errors import SwarmError

# A training peer's peak RSS measured 325 MiB (micro) to 390 MiB (small) on CPU (bench.peer_memory),
# almost all of it Python + torch + libp2p; 600 MiB leaves headroom for a busy gossip inbox.
PROCESS_BASELINE = 600 * 1024 * 1024
DEVICE_KINDS = ("cpu", "cuda", "mps")
PROFILE_ORDER = ("micro", "tiny", "small", "base")
MAX_PROFILE = {"cpu": "tiny", "cuda": "base", "mps": "base"}


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # cpu | cuda | mps
    name: str
    ram_total: int
    ram_available: int
    accel_total: int | None = None  # GPU memory (cuda only; mps shares the RAM)
    accel_free: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "ram_total": self.ram_total,
            "ram_available": self.ram_available,
            "accel_total": self.accel_total,
            "accel_free": self.accel_free,
        }


def detect_device(preference: str = "auto") -> DeviceInfo:
    """The device the learner will use (`auto`: cuda, then mps, then cpu) and its memory.
    A preference for a device this machine lacks is an error, not a silent fallback."""
    import torch

    from swarmclient.sapo.policy import pick_device

    device = pick_device(preference)
    vm = psutil.virtual_memory()
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SwarmError("bad-device", "device.kind = cuda, but torch sees no CUDA device")
        free, total = torch.cuda.mem_get_info()
        return DeviceInfo("cuda", torch.cuda.get_device_name()[:128], vm.total, vm.available, int(total), int(free))
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise SwarmError("bad-device", "device.kind = mps, but torch sees no MPS device")
        return DeviceInfo("mps", f"Apple {platform.machine()}", vm.total, vm.available)
    name = platform.processor() or platform.machine() or "cpu"
    return DeviceInfo("cpu", f"{name} x{psutil.cpu_count(logical=True) or 1}"[:128], vm.total, vm.available)


def profile_config(name: str, warm_steps: int | None = None) -> Any:
    """The SapoConfig of a profile (`tiny` is SapoConfig's defaults, the devnet's model)."""
    from repops.model import PolicyConfig
    from swarmclient.sapo.config import SapoConfig

    base = SapoConfig()
    configs = {
        "micro": replace(
            base, model=PolicyConfig(context=32, d_model=16, n_layer=1, n_head=2, d_mlp=32),
            instances_per_round=4, group_size=4, max_new=6, local_groups=2, external_groups=2,
        ),
        "tiny": base,
        "small": replace(
            base, model=PolicyConfig(context=32, d_model=64, n_layer=2, n_head=4, d_mlp=128), group_size=8,
        ),
        "base": replace(
            base, model=PolicyConfig(context=32, d_model=128, n_layer=4, n_head=4, d_mlp=256),
            instances_per_round=16, group_size=8, local_groups=8, external_groups=8,
        ),
    }
    if name not in configs:
        raise SwarmError("bad-profile", f"profile {name!r} is not one of {', '.join(PROFILE_ORDER)}")
    cfg = configs[name]
    return cfg if warm_steps is None else replace(cfg, warm_steps=warm_steps)


def profile_need(name: str) -> tuple[int, int]:
    """(RAM bytes, accelerator bytes for the update) a peer of this profile needs at most."""
    from swarmclient.sapo.policy import estimate_step_bytes

    cfg = profile_config(name)
    rows = (cfg.local_groups + cfg.external_groups) * cfg.group_size
    step = estimate_step_bytes(cfg.model, rows, cfg.model.context)
    return PROCESS_BASELINE + step, step


@dataclass(frozen=True)
class Sizing:
    profile: str
    device: DeviceInfo
    fraction: float
    ram_need: int
    accel_need: int
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "device": self.device.as_json(),
            "fraction": self.fraction,
            "ram_need": self.ram_need,
            "accel_need": self.accel_need,
            "reason": self.reason,
        }


def _fits(name: str, device: DeviceInfo, fraction: float) -> tuple[bool, int, int]:
    ram, step = profile_need(name)
    ok = ram <= fraction * device.ram_available
    if device.accel_free is not None:
        ok = ok and step <= fraction * device.accel_free
    return ok, ram, step


def choose_profile(device: DeviceInfo, fraction: float = 0.5, requested: str | None = None) -> Sizing:
    """The profile to train with (see the module docstring). `requested` is checked, not trusted:
    a profile that does not fit is refused with the numbers."""
    if not 0 < fraction <= 1:
        raise SwarmError("bad-config", f"device.max_memory_fraction = {fraction}; use a value in (0, 1]")
    mib = 1 << 20
    if requested is not None:
        ok, ram, step = _fits(requested, device, fraction)
        if not ok:
            raise SwarmError(
                "memory",
                f"profile {requested} needs about {ram // mib} MiB of RAM ({step // mib} MiB for the update), more than "
                f"{fraction:.0%} of the {device.ram_available // mib} MiB available; choose a smaller --profile",
            )
        return Sizing(requested, device, fraction, ram, step, "requested")
    cap = PROFILE_ORDER.index(MAX_PROFILE[device.kind])
    for name in reversed(PROFILE_ORDER[: cap + 1]):
        ok, ram, step = _fits(name, device, fraction)
        if ok:
            why = f"largest profile for {device.kind} that fits {fraction:.0%} of available memory"
            return Sizing(name, device, fraction, ram, step, why)
    ram, _ = profile_need("micro")
    raise SwarmError(
        "memory",
        f"even the smallest profile needs about {ram // mib} MiB, more than {fraction:.0%} of the "
        f"{device.ram_available // mib} MiB available; close other programs (a peer must not make the machine swap)",
    )


__all__ = [
    "DEVICE_KINDS",
    "DeviceInfo",
    "MAX_PROFILE",
    "PROCESS_BASELINE",
    "PROFILE_ORDER",
    "Sizing",
    "choose_profile",
    "detect_device",
    "profile_config",
    "profile_need",
]
