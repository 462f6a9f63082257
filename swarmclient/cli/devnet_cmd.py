"""`swarm devnet`: a local swarm of N peer processes on 127.0.0.1."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from swarmclient.cli.argtypes import number_in, positive_float, positive_int
from swarmclient.errors import SwarmError
from swarmclient.home import Home


non_negative_int = number_in(int, 0)
unit_float = number_in(float, 0.0, 1.0)


def cmd_devnet(args: argparse.Namespace) -> int:
    import trio

    from swarmclient.devnet import DevnetOptions, run_devnet
    from swarmclient.devnet.chain import ChainOptions

    rounds = args.rounds
    if args.duration is not None:
        rounds = max(1, math.floor(args.duration / args.round_seconds))
    root = Path(args.dir) if args.dir else Home.resolve(args.home).root / "devnet"
    if args.cheaters and args.no_chain:
        raise SwarmError("bad-devnet", "--cheaters needs the chain (drop --no-chain)")
    if args.cheaters >= args.peers:
        raise SwarmError("bad-devnet", f"--cheaters {args.cheaters} needs at least one honest peer among --peers {args.peers}")
    chain = None if args.no_chain else ChainOptions(
        challenge_window=args.challenge_window, clock=args.game_clock, sample_rate=args.sample_rate,
        cheaters=args.cheaters,
    )
    options = DevnetOptions(
        root=root.expanduser().absolute(),
        peers=args.peers,
        rounds=rounds,
        round_seconds=args.round_seconds,
        base_port=args.base_port,
        headless=args.headless,
        batch_bytes=args.batch_bytes,
        synthetic=args.synthetic,
        warm_steps=args.warm_steps,
        profile=args.profile,
        chain=chain,
    )
    result = trio.run(run_devnet, options)
    if args.report:
        out = Path(args.report)
        try:
            out.write_text(json.dumps(result.report, indent=2) + "\n")
        except OSError as exc:
            raise SwarmError("report", f"cannot write {out}: {exc.strerror}") from exc
    return result.exit_code


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "devnet",
        help="run a local swarm of N peer processes on 127.0.0.1",
        description="Start N peers as separate processes on 127.0.0.1, each with its own identity "
        "under the devnet directory, mesh them, run SAPO training rounds (or --synthetic rollout batches), and "
        "report what every peer sent and received. Exit code: 0 all delivered, 1 a peer died "
        "or a batch was lost, 130 stopped by Ctrl-C.",
    )
    p.add_argument("--peers", type=positive_int, default=4, help="number of peers (default 4)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--rounds", type=positive_int, help="stop after R rounds (default: until Ctrl-C)")
    stop.add_argument("--duration", type=positive_float, metavar="S", help="stop after about S seconds of rounds")
    p.add_argument("--round-seconds", type=positive_float, default=2.0, help="length of a round (default 2)")
    p.add_argument("--headless", action="store_true", help="no live table; progress lines only")
    p.add_argument("--report", metavar="FILE.json", help="write the JSON report here")
    p.add_argument("--base-port", type=int, metavar="P", help="peer i listens on P+i (default: free ports)")
    p.add_argument("--dir", help="devnet directory (default: $SWARM_HOME/devnet)")
    p.add_argument("--batch-bytes", type=positive_int, metavar="N", help=argparse.SUPPRESS)
    p.add_argument("--synthetic", action="store_true", help="synthetic rollouts, no training (network tests)")
    p.add_argument("--warm-steps", type=positive_int, metavar="N", help="SAPO supervised warm-start steps")
    p.add_argument("--profile", choices=("micro", "tiny", "small", "base"), default="tiny",
                   help="every peer's SAPO model/batch profile (default tiny; micro for quick runs)")
    p.add_argument("--cheaters", type=non_negative_int, default=0, metavar="K",
                   help="the last K peers claim corrupted updates (fault CORRUPT_UPDATE); watchers dispute them")
    p.add_argument("--no-chain", action="store_true", help="no chain: no stake, claims on the ledger or disputes")
    p.add_argument("--challenge-window", type=positive_int, default=60, metavar="S",
                   help="seconds a posted claim can be disputed (default 60)")
    p.add_argument("--game-clock", type=positive_int, default=90, metavar="S",
                   help="each side's total time in a dispute game (default 90)")
    p.add_argument("--sample-rate", type=unit_float, default=1.0, metavar="R",
                   help="share of other peers' claims each peer re-executes (default 1: all)")
    p.set_defaults(func=cmd_devnet)
