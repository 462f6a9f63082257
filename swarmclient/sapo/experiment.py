"""The swarm-versus-isolated experiment: N simulated peers in one process, I local / J external.

Gossip semantics, simulated: in round r every peer generates its groups with its own policy;
after the round every peer's groups are visible to every other peer (what a full rollout
broadcast delivers), and each peer builds its batch with sapo.batch.build_batch: its first I
local groups and J externals drawn uniformly across distinct peers, all rescored locally.
Every peer has its own copy of a shared warm start (cached on disk).

Reported per configuration "I/J": mean reward per round (over peers, then over seeds) with a
95% confidence interval across seeds (Student t), and the cumulative reward (sum over rounds
of the peers' mean reward) with its interval. The reward of round r is the mean locally
computed reward of the rollouts the peers generated in round r (before that round's update),
as in the SAPO paper.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch

from swarmclient.errors import SwarmError
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.update import SapoLearner, mean_reward
from swarmclient.sapo.warmstart import warm_start

# Two-sided 95% Student t quantiles by degrees of freedom (1..30); beyond, the normal 1.96.
_T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def parse_mix(text: str) -> list[tuple[int, int]]:
    """'8/0,4/4' -> [(8, 0), (4, 4)]."""
    out = []
    for item in text.split(","):
        try:
            i, j = (int(x) for x in item.strip().split("/"))
        except ValueError:
            raise SwarmError("bad-mix", f"{item!r} is not I/J (e.g. 4/4)") from None
        if i < 0 or j < 0 or i + j < 1:
            raise SwarmError("bad-mix", f"{item!r}: I, J >= 0 and I + J >= 1")
        out.append((i, j))
    if not out:
        raise SwarmError("bad-mix", "no configuration given")
    return out


def mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% confidence interval); half-width 0 for one value."""
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, 0.0
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    t = _T95[n - 2] if n - 2 < len(_T95) else 1.96
    return mean, t * sd / math.sqrt(n)


@dataclass(frozen=True)
class ExperimentSettings:
    peers: int = 8
    rounds: int = 16
    mixes: tuple[tuple[int, int], ...] = ((8, 0), (6, 2), (4, 4), (2, 6))
    seeds: int = 3
    workers: int = 2
    base: SapoConfig = SapoConfig()
    cache_dir: str = ".swarm-cache"


def run_one(settings: ExperimentSettings, mix: tuple[int, int], seed: int) -> list[list[float]]:
    """rewards[round][peer] of one configuration and seed (runs in a worker process)."""
    torch.set_num_threads(1)
    i, j = mix
    cfg = replace(settings.base, local_groups=i, external_groups=j, instances_per_round=max(settings.base.instances_per_round, i + j))
    warm = warm_start(cfg, settings.cache_dir, "cpu")
    learners = [SapoLearner(f"s{seed}-peer{k}", cfg, warm, "cpu") for k in range(settings.peers)]
    rewards = []
    for r in range(settings.rounds):
        generated = [[g.group for g in learner.generate(r)] for learner in learners]
        rewards.append([mean_reward(groups) for groups in generated])
        everyone = [g for groups in generated for g in groups]
        for learner, local in zip(learners, generated):
            external = [g for g in everyone if g.peer != learner.peer_id] if j else []
            learner.update(r, local, external)
    return rewards


def summarise(settings: ExperimentSettings, results: dict[str, list[list[list[float]]]], seconds: float) -> dict[str, Any]:
    configs = {}
    for name, per_seed in results.items():
        curves = [[math.fsum(row) / len(row) for row in rounds] for rounds in per_seed]  # seed x round
        per_round = [mean_ci([c[r] for c in curves]) for r in range(settings.rounds)]
        cumulative = [math.fsum(c) for c in curves]
        cum_mean, cum_ci = mean_ci(cumulative)
        configs[name] = {
            "reward_per_round": [m for m, _ in per_round],
            "reward_per_round_ci95": [h for _, h in per_round],
            "cumulative": cum_mean,
            "cumulative_ci95": cum_ci,
            "cumulative_per_seed": cumulative,
            "reward_per_round_per_seed": curves,
        }
    out: dict[str, Any] = {
        "settings": {
            "peers": settings.peers,
            "rounds": settings.rounds,
            "mixes": [f"{i}/{j}" for i, j in settings.mixes],
            "seeds": settings.seeds,
            "sapo": {k: v for k, v in asdict(settings.base).items() if k != "task_params"},
        },
        "seconds": round(seconds, 1),
        "configs": configs,
    }
    if "8/0" in configs:
        base = configs["8/0"]["cumulative"]
        out["vs_8_0_percent"] = {
            name: (100.0 * (c["cumulative"] - base) / base if base else None) for name, c in configs.items() if name != "8/0"
        }
    return out


def run_experiment(settings: ExperimentSettings, progress=None) -> dict[str, Any]:
    start = time.monotonic()
    # The shared warm start is built once here (cached), before workers load it.
    warm_start(settings.base, settings.cache_dir, "cpu")
    jobs = [(mix, seed) for seed in range(settings.seeds) for mix in settings.mixes]
    results: dict[str, list] = {f"{i}/{j}": [None] * settings.seeds for i, j in settings.mixes}
    workers = max(1, min(settings.workers, len(jobs), os.cpu_count() or 1))
    if workers == 1:
        for mix, seed in jobs:
            results[f"{mix[0]}/{mix[1]}"][seed] = run_one(settings, mix, seed)
            if progress:
                progress(mix, seed)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(run_one, settings, mix, seed): (mix, seed) for mix, seed in jobs}
            for future, (mix, seed) in futures.items():
                results[f"{mix[0]}/{mix[1]}"][seed] = future.result()
                if progress:
                    progress(mix, seed)
    return summarise(settings, results, time.monotonic() - start)


def write_plot(summary: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    names = list(summary["configs"])
    for name in names:
        c = summary["configs"][name]
        xs = range(len(c["reward_per_round"]))
        lo = [m - h for m, h in zip(c["reward_per_round"], c["reward_per_round_ci95"])]
        hi = [m + h for m, h in zip(c["reward_per_round"], c["reward_per_round_ci95"])]
        ax1.plot(xs, c["reward_per_round"], label=f"{name} (I/J)")
        ax1.fill_between(xs, lo, hi, alpha=0.15)
    ax1.set_xlabel("round")
    ax1.set_ylabel("mean reward of generated rollouts")
    ax1.legend()
    ax2.bar(names, [summary["configs"][n]["cumulative"] for n in names],
            yerr=[summary["configs"][n]["cumulative_ci95"] for n in names], capsize=4)
    ax2.set_ylabel("cumulative reward (95% CI over seeds)")
    s = summary["settings"]
    fig.suptitle(f"SAPO: {s['peers']} peers, {s['rounds']} rounds, {s['seeds']} seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_json(summary: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(summary, indent=1))
