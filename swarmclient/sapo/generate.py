"""Generating a round's rollouts: G completions per task instance, reproducibly.

Instance k of round r of peer p is sampled with the RepOps counter RNG keyed by
repops.rng.derive_key("swarm.sapo.generate", p, r, k), so anyone holding the checkpoint can
regenerate the exact completions (generation is itself verifiable). Alongside each group we
keep the sampling policy's log-probabilities of what it sampled (logp_old, float32), computed
teacher-forced on the packed rows: the same function the update's ratio uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from repops import rng
from repops.model import Policy
from repops.step import sampling_logps
from swarmclient.sapo.batch import RolloutGroup
from swarmclient.sapo.policy import END_ID, completion_text, encode, max_new_for, pack_fixed
from swarmclient.tasks.registry import TaskInstance, get_task


@dataclass(frozen=True)
class GeneratedGroup:
    group: RolloutGroup  # what is published (no answers, no rewards)
    logp_old: tuple[tuple[float, ...], ...]  # per completion: log p of its tokens and the final EOS


def generation_key(peer_id: str, round_index: int, index: int) -> int:
    return rng.derive_key("swarm.sapo.generate", peer_id, round_index, index)


def _ended(row: list[int]) -> bool:
    return len(completion_text(row, len(row))) < len(row) or (bool(row) and row[-1] == END_ID)


@torch.no_grad()
def generate_group(
    model: Policy,
    instance: TaskInstance,
    *,
    peer_id: str,
    round_index: int,
    index: int,
    group_size: int,
    max_new: int,
    temperature: float = 1.0,
) -> GeneratedGroup:
    """G = group_size completions of one instance, sampled in one batch of G identical prompts."""
    problem = get_task(instance.task).generate(dict(instance.params), instance.seed)
    prompt = encode(problem.prompt)
    steps = max_new_for(problem.prompt, model.config, max_new)
    device = next(model.parameters()).device
    start = torch.tensor([prompt] * group_size, dtype=torch.int64, device=device)  # (G, T0)
    key = generation_key(peer_id, round_index, index)
    tokens = start
    for _ in range(steps):
        # One token at a time (token j uses RNG counter T0 + j, exactly as one
        # generate(start, steps) call would), stopping once every row's completion has ended:
        # what follows is cut by the canonical rule anyway, so the completions are the same.
        tokens = model.generate(tokens, 1, key, temperature)
        if all(_ended(row) for row in tokens[:, len(prompt) :].cpu().tolist()):
            break
    sampled = tokens[:, len(prompt) :].cpu().tolist()  # (G, <= steps)
    texts = tuple(completion_text(row, steps) for row in sampled)
    rows = pack_fixed([prompt] * group_size, [encode(t) for t in texts], [0.0] * group_size, model.config)
    logps = sampling_logps(model, rows.to(device)).cpu()
    kept = tuple(tuple(float(v) for v in logps[i][rows.mask[i] == 1]) for i in range(group_size))
    group = RolloutGroup(peer_id, instance.task, dict(instance.params), instance.seed, texts)
    return GeneratedGroup(group, kept)


def generate_round(
    model: Policy,
    instances: Sequence[TaskInstance],
    *,
    peer_id: str,
    round_index: int,
    group_size: int,
    max_new: int,
    temperature: float = 1.0,
) -> list[GeneratedGroup]:
    return [
        generate_group(
            model,
            inst,
            peer_id=peer_id,
            round_index=round_index,
            index=k,
            group_size=group_size,
            max_new=max_new,
            temperature=temperature,
        )
        for k, inst in enumerate(instances)
    ]
