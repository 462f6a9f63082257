"""Gossip benchmark: delivery ratio, latency and throughput of N peer processes on loopback.

    .venv/bin/python -m bench.gossip --peers 4,8,16 --sizes 2048,204800 --rate 100 --seconds 10 --json

For each (peers, size) it runs a headless devnet (real processes, real libp2p GossipSub on
127.0.0.1) in which every peer publishes RolloutBatches of `size` bytes of completion text
(plus ~3% msgpack/envelope overhead). `--rate` is the message rate offered by the whole
swarm, split evenly over its peers (each peer publishes every peers/rate seconds), for
messages up to 64 KiB; bigger ones are offered at `--large-rate` (default 5/s): 100 msg/s of
200 KB is 20 MB/s into every peer, which no Python peer on 2 cores can absorb, and the
question for large messages is loss and latency at a rate a swarm actually produces.

Figures per run:
- delivery ratio: deliveries / (messages published x (peers - 1));
- latency p50/p95/max: receive time minus the envelope's timestamp (ms clocks of the same
  machine), over every delivery;
- offered and achieved msgs/s: published messages per second of the publishing window;
  delivered msgs/s: deliveries (one per receiving peer) per second;
- peer CPU seconds: user+system time of the peer processes (start-up included), the figure
  to compare on a shared machine, where latency mostly measures the other work.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import tempfile
import time
from pathlib import Path

import trio

from swarmclient.devnet import DevnetOptions, run_devnet

LARGE_BYTES = 64 * 1024


def _nearest_rank(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    return samples[max(0, math.ceil(q * len(samples)) - 1)]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(peers: int, size: int, rate: float, seconds: float, workdir: Path) -> dict:
    round_seconds = peers / rate
    rounds = max(1, round(seconds / round_seconds))
    options = DevnetOptions(
        root=workdir / f"n{peers}-s{size}", peers=peers, rounds=rounds, round_seconds=round_seconds,
        headless=True, batch_bytes=size,
    )
    cpu_before = _children_cpu_s()
    with open(workdir / "devnet.log", "a") as log:
        result = trio.run(run_devnet, options, log)
    peer_cpu_s = _children_cpu_s() - cpu_before
    report = result.report
    published = 0
    publish_times: list[int] = []
    latencies: list[float] = []
    deliveries = 0
    for peer in report["peers"]:
        batches = peer.get("batches") or {}
        published += len(batches.get("published_rounds", []))
        publish_times += list((batches.get("published_at_ms") or {}).values())
        for rounds in (batches.get("received_latency_ms") or {}).values():
            latencies += rounds.values()
            deliveries += len(rounds)
    latencies.sort()
    window = (max(publish_times) - min(publish_times)) / 1000 if len(publish_times) > 1 else float("nan")
    expected = report["summary"]["expected_batches"]
    return {
        "peers": peers,
        "size_bytes": size,
        "offered_msgs_per_s": rate,
        "seconds": seconds,
        "published": published,
        "expected_deliveries": expected,
        "deliveries": deliveries,
        "delivery_ratio": (report["summary"]["received_batches"] / expected) if expected else None,
        "lost": report["summary"]["lost"],
        "dead_peers": len(report["summary"]["dead_peers"]),
        "latency_p50_ms": _nearest_rank(latencies, 0.50),
        "latency_p95_ms": _nearest_rank(latencies, 0.95),
        "latency_max_ms": latencies[-1] if latencies else None,
        "achieved_msgs_per_s": published / window if window and window == window else None,
        "delivered_msgs_per_s": deliveries / window if window and window == window else None,
        "dropped": {k: v for p in report["peers"] for k, v in p.get("dropped", {}).items()},
        # CPU seconds used by the peer processes, start-up (imports, ~5-10 s each) included:
        # unlike latency, it hardly depends on what else the machine is running.
        "peer_cpu_s": round(peer_cpu_s, 1),
        "exit_code": result.exit_code,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gossip", description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default="4,8,16", help="comma-separated peer counts")
    parser.add_argument("--sizes", default="2048,204800", help="comma-separated message sizes (bytes of text)")
    parser.add_argument("--rate", type=float, default=100.0, help="messages per second offered by the whole swarm")
    parser.add_argument("--large-rate", type=float, default=5.0,
                        help="messages per second offered for sizes over 64 KiB (default 5)")
    parser.add_argument("--seconds", type=float, default=10.0, help="publishing time per run")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--workdir", help="keep devnet directories and logs here (default: a temp dir)")
    args = parser.parse_args(argv)
    peer_counts = [int(x) for x in args.peers.split(",") if x]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    results = []
    with tempfile.TemporaryDirectory(prefix="swarm-bench-") as tmp:
        workdir = Path(args.workdir) if args.workdir else Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for peers in peer_counts:
            for size in sizes:
                started = time.time()
                rate = args.rate if size <= LARGE_BYTES else args.large_rate
                row = measure(peers, size, rate, args.seconds, workdir)
                row["wall_s"] = round(time.time() - started, 1)
                results.append(row)
                print(_row_text(row), file=sys.stderr if args.json else sys.stdout, flush=True)
    if args.json:
        print(json.dumps({"benchmark": "gossip", "command": " ".join(["python -m bench.gossip", *(argv or sys.argv[1:])]),
                          "results": results}, indent=2))
    return 0


def _row_text(row: dict) -> str:
    def ms(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f}"

    ratio = row["delivery_ratio"]
    return (
        f"peers={row['peers']:>3} size={row['size_bytes']:>7} delivered={'-' if ratio is None else f'{ratio:.4f}'} "
        f"lost={row['lost']} p50={ms(row['latency_p50_ms'])}ms p95={ms(row['latency_p95_ms'])}ms "
        f"max={ms(row['latency_max_ms'])}ms offered={row['offered_msgs_per_s']:.0f}/s "
        f"achieved={ms(row['achieved_msgs_per_s'])}/s delivered={ms(row['delivered_msgs_per_s'])}/s "
        f"peer-cpu={row['peer_cpu_s']} s ({row['wall_s']} s)"
    )


if __name__ == "__main__":
    sys.exit(main())
