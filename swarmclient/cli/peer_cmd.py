"""`swarm peer`: run one peer in the foreground (what each devnet process runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from swarmclient.cli.argtypes import positive_float, positive_int
from swarmclient.errors import SwarmError
from swarmclient.home import Home


def cmd_peer(args: argparse.Namespace) -> int:
    from swarmclient.runtime import RuntimeOptions, run_peer

    home = Home.resolve(args.home)
    if not home.root.exists():
        raise SwarmError("no-home", f"{home.root} does not exist; run `swarm init` first")
    options = RuntimeOptions(
        rounds=args.rounds,
        round_seconds=args.round_seconds,
        start_file=Path(args.start_file) if args.start_file else None,
        stats_out=Path(args.stats_out) if args.stats_out else None,
        parent_pid=args.parent_pid,
        expect_peers=args.expect_peers,
        batch_bytes=args.batch_bytes,
        linger_seconds=args.linger,
        drain_signal=args.drain_signal,
        training="synthetic" if args.synthetic else "sapo",
        warm_steps=args.warm_steps,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        profile=args.profile,
    )
    return run_peer(home, options)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "peer",
        help="run one peer in the foreground (SAPO training rounds; --synthetic for network-only rounds)",
    )
    p.add_argument("--rounds", type=positive_int, help="stop after this many rounds (default: run until Ctrl-C)")
    p.add_argument("--round-seconds", type=positive_float, default=2.0, help="length of a round (default 2)")
    p.add_argument("--stats-out", metavar="FILE", help="write the final stats snapshot here as JSON")
    p.add_argument("--expect-peers", type=int, default=0, metavar="K",
                   help="start rounds once K peers are connected and meshed (default 0)")
    p.add_argument("--batch-bytes", type=positive_int, metavar="N",
                   help="fixed batch size in bytes of text (default: a realistic 2 KB..200 KB spread)")
    p.add_argument("--linger", type=float, metavar="S",
                   help="after the last round keep relaying this long (default: one round, at least 2 s)")
    # Used by `swarm devnet` to coordinate its children; not for operators.
    p.add_argument("--drain-signal", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--synthetic", action="store_true", help="publish synthetic rollouts instead of training (network tests)")
    p.add_argument("--warm-steps", type=positive_int, metavar="N", help="SAPO supervised warm-start steps")
    p.add_argument("--profile", choices=("micro", "tiny", "small", "base"), default="tiny",
                   help="SAPO model/batch size (default tiny; `swarm join` picks one for the device)")
    p.add_argument("--cache-dir", help=argparse.SUPPRESS)
    p.add_argument("--start-file", help=argparse.SUPPRESS)
    p.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_peer)
