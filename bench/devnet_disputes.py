"""Claims and disputes in a devnet: gas per claim and per round per peer, time from a cheating
claim's post to its game (detection) and to the game's end (resolution).

    .venv/bin/python -m bench.devnet_disputes [--peers 4] [--cheaters 1] [--rounds 3] [--json]

Runs `swarm devnet --headless` (real peer processes, training, the embedded chain) and reads
its report's `chain` section. Times are block time (one block a second), so they include the
checkers' queues: every peer re-executes every other peer's claim.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import trio

from swarmclient.devnet import DevnetOptions, run_devnet
from swarmclient.devnet.chain import ChainOptions


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peers", type=int, default=4)
    ap.add_argument("--cheaters", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--round-seconds", type=float, default=3.0)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--clock", type=int, default=90)
    ap.add_argument("--warm-steps", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        options = DevnetOptions(root=Path(tmp) / "devnet", peers=args.peers, rounds=args.rounds,
                                round_seconds=args.round_seconds, synthetic=False, warm_steps=args.warm_steps,
                                chain=ChainOptions(challenge_window=args.window, clock=args.clock, cheaters=args.cheaters))
        started = time.time()
        result = trio.run(run_devnet, options)
        wall = time.time() - started
    chain = result.report.get("chain") or {}
    peers = chain.get("peers", [])
    honest = [p for p in peers if not p["cheater"]]
    by_call: dict[str, list[int]] = {}
    for p in peers:
        for call, v in (p.get("gas_by_call") or {}).items():
            by_call.setdefault(call, []).append(v["gas"] // max(1, v["txs"]))
    games = chain.get("games", [])
    out = {
        "peers": args.peers, "cheaters": args.cheaters, "rounds": args.rounds, "wall_s": round(wall, 1),
        "exit_code": result.exit_code,
        "gas_per_call_mean": {k: round(statistics.mean(v)) for k, v in sorted(by_call.items())},
        "gas_per_claim_honest": [p["gas_per_claim"] for p in honest],
        "gas_per_round_per_peer": [round(p["gas_total"] / args.rounds) if p.get("gas_total") else None for p in peers],
        "games": [{k: g[k] for k in ("game_id", "claimant", "challenger", "status", "by_timeout", "moves",
                                     "detection_s", "resolution_s")} for g in games],
        "detection_s_median": statistics.median([g["detection_s"] for g in games if g["detection_s"] is not None] or [0]),
        "resolution_s_median": statistics.median([g["resolution_s"] for g in games if g["resolution_s"] is not None] or [0]),
        "verdict": chain.get("verdict"),
    }
    print(json.dumps(out, indent=2) if args.json else "\n".join(f"{k}: {v}" for k, v in out.items()))


if __name__ == "__main__":
    main()
