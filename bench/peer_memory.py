"""Peak memory (RSS) of a training peer per profile: the figure behind
swarmclient.runtime.device.PROCESS_BASELINE, which `swarm join` uses to size a peer so a
laptop never swaps.

    .venv/bin/python -m bench.peer_memory [--profiles micro,tiny] [--rounds 3] [--json]

Runs `swarm peer --rounds R --profile P` alone on a throwaway home (127.0.0.1, durable state
on) and samples /proc/<pid>/status VmRSS every 100 ms (Linux only). Also prints the update's
bound from sapo.policy.estimate_step_bytes and join's total need for each profile.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swarmclient import config as config_mod
from swarmclient import identity as identity_mod
from swarmclient.home import Home
from swarmclient.runtime.device import PROFILE_ORDER, profile_need

MIB = 1 << 20


def peak_rss(cmd: list[str]) -> tuple[int, float, int]:
    """(peak RSS bytes, seconds, exit code) of a process."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except (FileNotFoundError, ProcessLookupError):
            pass
        time.sleep(0.1)
    return peak, time.monotonic() - start, proc.returncode


def measure(profile: str, rounds: int, root: Path) -> dict:
    home = Home(root / profile)
    identity_mod.save(identity_mod.Identity.generate(), home)
    cfg = config_mod.Config(swarm_id="bench", network=config_mod.NetworkConfig(listen=["/ip4/127.0.0.1/tcp/0"]))
    home.config.write_text(config_mod.render(cfg))
    cmd = [sys.executable, "-m", "swarmclient.cli.main", "--home", str(home.root), "peer", "--rounds", str(rounds),
           "--profile", profile, "--warm-steps", "5", "--cache-dir", str(root / "cache")]
    peak, seconds, code = peak_rss(cmd)
    ram_need, step = profile_need(profile)
    return {"profile": profile, "peak_rss_mib": round(peak / MIB, 1), "seconds": round(seconds, 1), "exit": code,
            "update_bound_mib": round(step / MIB, 1), "join_need_mib": round(ram_need / MIB, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", default="micro,tiny")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    profiles = [p for p in args.profiles.split(",") if p]
    for p in profiles:
        if p not in PROFILE_ORDER:
            parser.error(f"unknown profile {p}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(p, args.rounds, Path(tmp)) for p in profiles]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'profile':<8} {'peak RSS':>10} {'update bound':>13} {'join needs':>11} {'run':>7}")
    for r in rows:
        print(f"{r['profile']:<8} {r['peak_rss_mib']:>7.1f} MiB {r['update_bound_mib']:>9.1f} MiB "
              f"{r['join_need_mib']:>7.1f} MiB {r['seconds']:>6.1f}s" + ("" if r["exit"] == 0 else f"  exit {r['exit']}"))


if __name__ == "__main__":
    main()
