"""`swarm experiment sapo`: the swarm-versus-isolated SAPO experiment (swarmclient.sapo.experiment)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from swarmclient.errors import SwarmError
from swarmclient.home import Home


def cmd_sapo(args: argparse.Namespace) -> int:
    from swarmclient.sapo import experiment as ex  # torch: imported only by this command

    if args.peers < 2 or args.rounds < 1 or args.seeds < 1 or args.workers < 1:
        raise SwarmError("bad-args", "need --peers >= 2, --rounds >= 1, --seeds >= 1, --workers >= 1")
    cache = args.cache or str(Home.resolve(args.home).root / "cache")
    base = ex.SapoConfig(device="cpu")
    if args.warm_steps is not None:
        base = replace(base, warm_steps=args.warm_steps)
    overrides = {
        "lr": args.lr,
        "group_size": args.group_size,
        "instances_per_round": args.instances,
        "epochs": args.epochs,
        "drop_zero_advantage": args.drop_zero_advantage,
    }
    base = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if args.tasks:
        base = replace(base, tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()))
    specialties = tuple(s.strip() for s in args.specialties.split(",") if s.strip()) if args.specialties else ()
    settings = ex.ExperimentSettings(
        peers=args.peers,
        rounds=args.rounds,
        mixes=tuple(ex.parse_mix(args.mix)),
        seeds=args.seeds,
        workers=args.workers,
        base=base,
        cache_dir=cache,
        specialties=specialties,
        specialty_weight=args.specialty_weight,
    )

    def progress(mix, seed) -> None:
        print(f"done {mix[0]}/{mix[1]} seed {seed}", file=sys.stderr, flush=True)

    summary = ex.run_experiment(settings, progress)
    if args.json:
        ex.write_json(summary, args.json)
    if args.plot:
        ex.write_plot(summary, args.plot)
    table = {name: {"cumulative": round(c["cumulative"], 3), "ci95": round(c["cumulative_ci95"], 3)} for name, c in summary["configs"].items()}
    print(json.dumps({"seconds": summary["seconds"], "cumulative_reward": table, "vs_8_0_percent": summary.get("vs_8_0_percent")}, indent=1))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("experiment", help="run experiments (sapo: swarm versus isolated training)")
    sub = p.add_subparsers(dest="experiment_command", metavar="EXPERIMENT", required=True)
    s = sub.add_parser("sapo", help="N simulated peers, I local / J external rollouts per update")
    s.add_argument("--peers", type=int, default=8)
    s.add_argument("--rounds", type=int, default=16)
    s.add_argument("--mix", default="8/0,6/2,4/4,2/6", help="comma-separated I/J configurations")
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--workers", type=int, default=2, help="worker processes (one configuration and seed each)")
    s.add_argument("--warm-steps", type=int, default=None, help="supervised warm-start steps")
    s.add_argument("--lr", type=float, default=None, help="SAPO learning rate")
    s.add_argument("--group-size", type=int, default=None, help="G completions per task instance")
    s.add_argument("--instances", type=int, default=None, help="task instances each peer generates per round")
    s.add_argument("--epochs", type=int, default=None, help="PPO epochs per update")
    s.add_argument("--drop-zero-advantage", action=argparse.BooleanOptionalAction, default=None,
                   help="leave groups whose completions all score alike out of the batch")
    s.add_argument("--specialty-weight", type=int, default=4,
                   help="a specialist's warm start draws its specialty's tasks this many times as often")
    s.add_argument("--tasks", help="comma-separated built-in tasks every peer draws from (default: all)")
    s.add_argument("--specialties", help="comma-separated specialties (tasks.SPECIALTIES names or task+task) "
                   "assigned to peers in turn; each peer is warm-started on its specialty's tasks only")
    s.add_argument("--cache", help="warm-start cache directory (default: $SWARM_HOME/cache)")
    s.add_argument("--json", help="write the full results here")
    s.add_argument("--plot", help="write a PNG plot here")
    s.set_defaults(func=cmd_sapo)
