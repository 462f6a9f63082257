"""`swarm experiment sapo`: the swarm-versus-isolated SAPO experiment (swarmclient.sapo.experiment)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace

from swarmclient.errors import SwarmError
from swarmclient.home import Home

# The tasks this tiny policy learns something of in a 400-step warm start (add, sub and mul
# stay near 0.1 and mostly add reward noise), in two specialties of two tasks each.
EXPERIMENT_TASKS = "reverse,sort,count,max"
EXPERIMENT_SPECIALTIES = "strings,counting"


def cmd_sapo(args: argparse.Namespace) -> int:
    from swarmclient.sapo import experiment as ex  # torch: imported only by this command

    if args.peers < 2 or args.rounds < 1 or args.seeds < 1 or args.workers < 1:
        raise SwarmError("bad-args", "need --peers >= 2, --rounds >= 1, --seeds >= 1, --workers >= 1")
    cache = args.cache or str(Home.resolve(args.home).root / "cache")
    base = _base_config(args)
    specialties = tuple(s.strip() for s in args.specialties.split(",") if s.strip())
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
    paired = {name: {"mean": round(v["mean"], 1), "ci95": round(v["ci95"], 1)} for name, v in summary.get("vs_8_0_percent_paired", {}).items()}
    print(json.dumps({"seconds": summary["seconds"], "cumulative_reward": table, "vs_8_0_percent": summary.get("vs_8_0_percent"),
                      "vs_8_0_percent_paired_ci95": paired}, indent=1))
    return 0


def _base_config(args: argparse.Namespace):
    from swarmclient.sapo.config import SapoConfig

    base = SapoConfig(device="cpu")
    overrides = {
        "warm_steps": args.warm_steps,
        "lr": args.lr,
        "group_size": args.group_size,
        "instances_per_round": args.instances,
        "epochs": args.epochs,
        "drop_zero_advantage": args.drop_zero_advantage,
    }
    base = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    if args.tasks:
        base = replace(base, tasks=tuple(t.strip() for t in args.tasks.split(",") if t.strip()))
    return base


def cmd_probe(args: argparse.Namespace) -> int:
    from swarmclient.sapo import experiment as ex

    if args.rounds < 1 or args.every < 1:
        raise SwarmError("bad-args", "need --rounds >= 1 and --every >= 1")
    cache = args.cache or str(Home.resolve(args.home).root / "cache")

    def show(row) -> None:
        print(json.dumps({"round": row["round"], "train_reward": row["train_reward"] and round(row["train_reward"], 3),
                          "eval": {k: round(v, 3) for k, v in row["eval"].items()}}), flush=True)

    rows = ex.run_probe(_base_config(args), cache, args.rounds, args.every, args.specialty or None, args.specialty_weight)
    show(rows[0])
    for row in rows[1:]:
        show(row)
    return 0


def _update_flags(s: argparse.ArgumentParser) -> None:
    s.add_argument("--warm-steps", type=int, default=None, help="supervised warm-start steps")
    s.add_argument("--lr", type=float, default=None, help="SAPO learning rate")
    s.add_argument("--group-size", type=int, default=None, help="G completions per task instance")
    s.add_argument("--instances", type=int, default=None, help="task instances each peer generates per round")
    s.add_argument("--epochs", type=int, default=None, help="PPO epochs per update")
    # The defaults below are the configuration docs/sapo.md reports (validated there).
    s.add_argument("--drop-zero-advantage", action=argparse.BooleanOptionalAction, default=True,
                   help="leave groups whose completions all score alike out of the batch (default: on)")
    s.add_argument("--tasks", default=EXPERIMENT_TASKS,
                   help=f"comma-separated built-in tasks every peer draws from (default: {EXPERIMENT_TASKS})")
    s.add_argument("--specialty-weight", type=int, default=4,
                   help="a specialist's warm start draws each specialty task this many times as often as another")
    s.add_argument("--cache", help="warm-start cache directory (default: $SWARM_HOME/cache)")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("experiment", help="run experiments (sapo: swarm versus isolated training)")
    sub = p.add_subparsers(dest="experiment_command", metavar="EXPERIMENT", required=True)
    s = sub.add_parser("sapo", help="N simulated peers, I local / J external rollouts per update")
    s.add_argument("--peers", type=int, default=8)
    s.add_argument("--rounds", type=int, default=20)
    s.add_argument("--mix", default="8/0,6/2,4/4,2/6", help="comma-separated I/J configurations")
    s.add_argument("--seeds", type=int, default=3)
    s.add_argument("--workers", type=int, default=2, help="worker processes (one configuration and seed each)")
    _update_flags(s)
    s.add_argument("--specialties", default=EXPERIMENT_SPECIALTIES,
                   help="comma-separated specialties (tasks.SPECIALTIES names or task+task) assigned to peers in "
                   "turn, each warm-started mostly on its specialty's tasks; '' for one shared warm start "
                   f"(default: {EXPERIMENT_SPECIALTIES})")
    s.add_argument("--json", help="write the full results here")
    s.add_argument("--plot", help="write a PNG plot here")
    s.set_defaults(func=cmd_sapo)
    q = sub.add_parser("probe", help="one isolated peer, reward on a fixed problem set every few rounds (tuning)")
    q.add_argument("--rounds", type=int, default=30)
    q.add_argument("--every", type=int, default=10, help="evaluate every this many rounds")
    q.add_argument("--specialty", default="strings", help="warm-start specialty ('' for the shared warm start)")
    _update_flags(q)
    q.set_defaults(func=cmd_probe)
