"""Supervised warm start: a few hundred steps of cross-entropy on generated task data, so RL
starts from a policy that sometimes gets a reward (GRPO learns nothing from all-zero groups).

Rows are prompt + Task.target(problem) (the answer and ANSWER_END) for problems drawn from
the configured tasks with a seed; nothing is downloaded. The result is cached on disk by the
SHA-256 of everything that determines it (model config, tasks and their parameters, steps,
batch size, lr, seed, vocabulary version), so peers and experiment runs share one warm start.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import torch

from repops.errors import RepOpsError
from repops.model import Policy
from repops.step import StepConfig, make_optimizer, pack_rows, train_step
from swarmclient.errors import SwarmError
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.policy import encode
from swarmclient.tasks.registry import get_task, sample_instances
from swarmclient.tasks.rng import derive_key
from swarmclient.tasks.vocab import VOCAB_VERSION

FORMAT = "swarm.warmstart/1"


def warm_start_key(cfg: SapoConfig) -> str:
    material = {
        "format": FORMAT,
        "vocab": VOCAB_VERSION,
        "model": asdict(cfg.model),
        # In order, repeats kept: sample_instances draws from the list as given, so the order
        # and the repeats (weights) both change the training data.
        "tasks": [get_task(t).ref for t in cfg.tasks],
        "params": {k: dict(sorted(v.items())) for k, v in sorted(cfg.task_params.items())},
        "steps": cfg.warm_steps,
        "batch": cfg.warm_batch,
        "lr": cfg.warm_lr,
        "seed": cfg.warm_seed,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def supervised_rows(cfg: SapoConfig, step: int):
    instances = sample_instances(cfg.tasks, cfg.warm_batch, derive_key("swarm.warmstart", cfg.warm_seed, step), cfg.task_params)
    prompts, targets = [], []
    for inst in instances:
        task = get_task(inst.task)
        problem = task.generate(dict(inst.params), inst.seed)
        prompts.append(encode(problem.prompt))
        targets.append(encode(task.target(problem)))
    length = max(len(p) + len(t) for p, t in zip(prompts, targets))
    return pack_rows(prompts, targets, [1.0] * len(prompts), length)


def train_warm_start(cfg: SapoConfig, device: torch.device | str = "cpu") -> tuple[Policy, list[float]]:
    """The warm-started policy and its loss per step (no cache)."""
    model = Policy(cfg.model, seed=cfg.warm_seed).to(device)
    step_cfg = StepConfig(model=cfg.model, lr=cfg.warm_lr)
    opt = make_optimizer(model, step_cfg)
    losses = []
    for step in range(cfg.warm_steps):
        result = train_step(model, opt, supervised_rows(cfg, step).to(device), trace_ops=False)
        losses.append(result.loss)
    return model, losses


def warm_start(cfg: SapoConfig, cache_dir: str | Path, device: torch.device | str = "cpu") -> Policy:
    """The warm-started policy, from the cache when present (its file re-checked on load)."""
    path = Path(cache_dir) / f"warmstart-{warm_start_key(cfg)[:32]}.safetensors"
    if path.exists():
        try:
            return Policy.load(path).to(device)
        except RepOpsError:
            path.unlink(missing_ok=True)  # corrupt cache entry: rebuild it below
    model, _ = train_warm_start(cfg, device)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        model.save(tmp)
        os.replace(tmp, path)  # atomic: concurrent experiment workers never read half a file
    except OSError as exc:
        raise SwarmError("cache", f"cannot write the warm start to {path}: {exc}") from None
    return model
