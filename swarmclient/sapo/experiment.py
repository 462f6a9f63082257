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
from swarmclient.sapo.generate import generate_round
from swarmclient.tasks.registry import TaskInstance, get_task, score_completion, specialty_tasks
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
    # Peer k is warm-started on the tasks of specialties[k % len(specialties)] only (names of
    # tasks.SPECIALTIES or task names joined by "+"), so peers differ in what they are good at
    # and another peer's rollouts carry what this one does not produce itself; every peer
    # still draws its round's tasks from all of base.tasks. () = one shared warm start.
    specialties: tuple[str, ...] = ()
    # In a specialist's warm start a task of its specialty is drawn this many times as often
    # as any other task (1 = no specialisation): every peer knows every task a little, which
    # keeps other peers' rollouts within reach of its clipped update, and its specialty well.
    specialty_weight: int = 4


def specialty_config(base: SapoConfig, specialty: str | None, weight: int = 4) -> SapoConfig:
    """The warm-start configuration of a peer of `specialty` (base itself for None): the task
    list with each specialty task repeated `weight` times (sample_instances draws uniformly
    from the list, so repetition is weight)."""
    if specialty is None:
        return base
    if weight < 1:
        raise SwarmError("bad-specialty", f"specialty weight {weight} < 1")
    tasks = specialty_tasks(specialty.split("+"))
    chosen = tuple(t for t in base.tasks if t in tasks)
    if not chosen:
        raise SwarmError("bad-specialty", f"specialty {specialty!r} has no task among {', '.join(base.tasks)}")
    return replace(base, tasks=base.tasks + chosen * (weight - 1))


def specialty_of(base: SapoConfig, specialty: str | None) -> frozenset[str]:
    """Task names of a peer's specialty (empty without one)."""
    if specialty is None:
        return frozenset()
    return frozenset(t for t in base.tasks if t in specialty_tasks(specialty.split("+")))


def peer_specialty(settings: ExperimentSettings, k: int) -> str | None:
    return settings.specialties[k % len(settings.specialties)] if settings.specialties else None


def _task_name(ref: str) -> str:
    return ref.partition("@")[0]


def run_one(settings: ExperimentSettings, mix: tuple[int, int], seed: int) -> dict[str, Any]:
    """One configuration and seed (runs in a worker process): `rewards[round][peer]` (mean
    reward of what the peer generated that round) and `own`/`other[round]` = (sum, count) of
    the rewards on tasks inside / outside the generating peer's specialty."""
    torch.set_num_threads(1)
    i, j = mix
    cfg = replace(settings.base, local_groups=i, external_groups=j, instances_per_round=max(settings.base.instances_per_round, i + j))
    learners, own_tasks = [], []
    for k in range(settings.peers):
        specialty = peer_specialty(settings, k)
        warm = warm_start(specialty_config(settings.base, specialty, settings.specialty_weight), settings.cache_dir, "cpu")
        learners.append(SapoLearner(f"s{seed}-peer{k}", cfg, warm, "cpu"))
        own_tasks.append(specialty_of(settings.base, specialty))
    rewards, own, other = [], [], []
    skipped = 0
    for r in range(settings.rounds):
        generated = [[g.group for g in learner.generate(r)] for learner in learners]
        rewards.append([mean_reward(groups) for groups in generated])
        split = {True: [0.0, 0], False: [0.0, 0]}
        for groups, mine in zip(generated, own_tasks):
            for g in groups:
                scores = [score_completion(g.task, g.params, g.seed, c) for c in g.completions]
                cell = split[_task_name(g.task) in mine]
                cell[0] += math.fsum(scores)
                cell[1] += len(scores)
        own.append(tuple(split[True]))
        other.append(tuple(split[False]))
        everyone = [g for groups in generated for g in groups]
        for learner, local in zip(learners, generated):
            external = [g for g in everyone if g.peer != learner.peer_id] if j else []
            try:
                learner.update(r, local, external)
            except SwarmError as exc:
                # With drop_zero_advantage a round whose groups all scored alike leaves nothing
                # to learn from: the peer keeps its policy (as the swarm's round loop would).
                if exc.reason != "empty-batch":
                    raise
                skipped += 1
    return {"rewards": rewards, "own": own, "other": other, "skipped_updates": skipped}


def _ratio_curve(cells: Sequence[Sequence[float]]) -> list[float | None]:
    return [cell[0] / cell[1] if cell[1] else None for cell in cells]


def summarise(settings: ExperimentSettings, results: dict[str, list[dict[str, Any]]], seconds: float) -> dict[str, Any]:
    configs = {}
    for name, per_seed in results.items():
        curves = [[math.fsum(row) / len(row) for row in run["rewards"]] for run in per_seed]  # seed x round
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
            # Where the reward comes from: tasks of the generating peer's own specialty or not.
            "own_specialty_reward_per_round_per_seed": [_ratio_curve(run["own"]) for run in per_seed],
            "other_tasks_reward_per_round_per_seed": [_ratio_curve(run["other"]) for run in per_seed],
            "skipped_updates_per_seed": [run["skipped_updates"] for run in per_seed],
        }
    out: dict[str, Any] = {
        "settings": {
            "peers": settings.peers,
            "rounds": settings.rounds,
            "mixes": [f"{i}/{j}" for i, j in settings.mixes],
            "seeds": settings.seeds,
            "specialties": list(settings.specialties),
            "specialty_weight": settings.specialty_weight,
            "sapo": {k: v for k, v in asdict(settings.base).items() if k != "task_params"},
        },
        "seconds": round(seconds, 1),
        "configs": configs,
    }
    if "8/0" in configs:
        base = configs["8/0"]
        out["vs_8_0_percent"] = {
            name: (100.0 * (c["cumulative"] - base["cumulative"]) / base["cumulative"] if base["cumulative"] else None)
            for name, c in configs.items()
            if name != "8/0"
        }
        # Seed s of every configuration has the same peers (ids, hence round-0 tasks, and warm
        # starts): the per-seed gains are paired, and their Student t interval is the honest
        # uncertainty of the percentage.
        paired = {}
        for name, c in configs.items():
            if name == "8/0" or any(v == 0 for v in base["cumulative_per_seed"]):
                continue
            gains = [100.0 * (x - y) / y for x, y in zip(c["cumulative_per_seed"], base["cumulative_per_seed"])]
            mean, half = mean_ci(gains)
            paired[name] = {"mean": mean, "ci95": half, "per_seed": gains}
        out["vs_8_0_percent_paired"] = paired
    return out


def build_warm_starts(settings: ExperimentSettings, workers: int) -> None:
    """Every warm start the peers need, built (or found in the cache) before the jobs start."""
    configs = {}
    for k in range(settings.peers):
        cfg = specialty_config(settings.base, peer_specialty(settings, k), settings.specialty_weight)
        configs[cfg.tasks] = cfg
    todo = list(configs.values())
    if workers == 1 or len(todo) == 1:
        for cfg in todo:
            warm_start(cfg, settings.cache_dir, "cpu")
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(_build_warm, cfg, settings.cache_dir) for cfg in todo]:
            future.result()


def _build_warm(cfg: SapoConfig, cache_dir: str) -> None:
    torch.set_num_threads(1)
    warm_start(cfg, cache_dir, "cpu")


def run_experiment(settings: ExperimentSettings, progress=None) -> dict[str, Any]:
    start = time.monotonic()
    jobs = [(mix, seed) for seed in range(settings.seeds) for mix in settings.mixes]
    results: dict[str, list] = {f"{i}/{j}": [None] * settings.seeds for i, j in settings.mixes}
    workers = max(1, min(settings.workers, len(jobs), os.cpu_count() or 1))
    build_warm_starts(settings, workers)
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


def _mean_curve(per_seed: Sequence[Sequence[float | None]]) -> list[float | None]:
    out: list[float | None] = []
    for r in range(len(per_seed[0]) if per_seed else 0):
        values = [curve[r] for curve in per_seed if curve[r] is not None]
        out.append(math.fsum(values) / len(values) if values else None)
    return out


def write_plot(summary: dict[str, Any], path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = summary["settings"]
    split = bool(s.get("specialties"))
    fig, axes = plt.subplots(1, 3 if split else 2, figsize=(16 if split else 11, 4))
    ax1, ax2 = axes[0], axes[1]
    names = list(summary["configs"])
    for name in names:
        c = summary["configs"][name]
        xs = range(len(c["reward_per_round"]))
        lo = [m - h for m, h in zip(c["reward_per_round"], c["reward_per_round_ci95"])]
        hi = [m + h for m, h in zip(c["reward_per_round"], c["reward_per_round_ci95"])]
        (line,) = ax1.plot(xs, c["reward_per_round"], label=f"{name} (I/J)")
        ax1.fill_between(xs, lo, hi, alpha=0.15)
        if split:
            own = _mean_curve(c["own_specialty_reward_per_round_per_seed"])
            other = _mean_curve(c["other_tasks_reward_per_round_per_seed"])
            axes[2].plot(xs, own, color=line.get_color(), label=f"{name} own specialty")
            axes[2].plot(xs, other, color=line.get_color(), linestyle="--", label=f"{name} other tasks")
    ax1.set_xlabel("round")
    ax1.set_ylabel("mean reward of generated rollouts (95% CI)")
    ax1.legend()
    ax2.bar(names, [summary["configs"][n]["cumulative"] for n in names],
            yerr=[summary["configs"][n]["cumulative_ci95"] for n in names], capsize=4)
    ax2.set_ylabel("cumulative reward (95% CI over seeds)")
    if split:
        axes[2].set_xlabel("round")
        axes[2].set_ylabel("reward by task kind (mean over seeds)")
        axes[2].legend(fontsize=7)
    title = f"SAPO: {s['peers']} peers, {s['rounds']} rounds, {s['seeds']} seeds"
    if split:
        title += f"; specialties {', '.join(s['specialties'])}"
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fixed_evaluation(model, tasks: Sequence[str], per_task: int = 8, group_size: int = 4, max_new: int = 10) -> dict[str, float]:
    """Mean reward per task (and "all") of `group_size` samples on a FIXED problem set (seeds
    1000.. at default parameters): unlike a round's own draw, comparable from round to round."""
    instances = [TaskInstance(get_task(t).ref, get_task(t).default_params(), 1000 + k) for t in tasks for k in range(per_task)]
    per: dict[str, list[float]] = {}
    for generated in generate_round(model, instances, peer_id="eval", round_index=0, group_size=group_size, max_new=max_new):
        g = generated.group
        per.setdefault(_task_name(g.task), []).extend(score_completion(g.task, g.params, g.seed, c) for c in g.completions)
    out = {name: math.fsum(v) / len(v) for name, v in per.items()}
    out["all"] = math.fsum(x for v in per.values() for x in v) / sum(len(v) for v in per.values())
    return out


def run_probe(cfg: SapoConfig, cache_dir: str, rounds: int, every: int = 10, specialty: str | None = None,
              specialty_weight: int = 4, progress=None) -> list[dict[str, Any]]:
    """One isolated peer (I = instances, J = 0) for `rounds` rounds: the fixed evaluation before
    training and every `every` rounds, with the mean reward of the rounds in between. The quick
    check that an update configuration improves the policy at all (docs/sapo.md, "Tuning")."""
    torch.set_num_threads(1)
    cfg = replace(cfg, local_groups=cfg.instances_per_round, external_groups=0)
    warm = warm_start(specialty_config(cfg, specialty, specialty_weight), cache_dir, "cpu")
    learner = SapoLearner("probe", cfg, warm, "cpu")
    rows = [{"round": 0, "eval": fixed_evaluation(learner.model, cfg.tasks), "train_reward": None}]
    recent: list[float] = []
    for r in range(rounds):
        groups = [g.group for g in learner.generate(r)]
        recent.append(mean_reward(groups))
        try:
            learner.update(r, groups, [])
        except SwarmError as exc:
            if exc.reason != "empty-batch":
                raise
        if (r + 1) % every == 0 or r + 1 == rounds:
            rows.append({"round": r + 1, "eval": fixed_evaluation(learner.model, cfg.tasks), "train_reward": math.fsum(recent) / len(recent)})
            recent = []
            if progress:
                progress(rows[-1])
    return rows


def write_json(summary: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(summary, indent=1))
