"""The task registry, ground-truth regeneration for received rollouts, specialties and sampling.

Task references on the wire are `name@version` (a bare `name` means the version this peer
runs). A receiver resolves the reference with `get_task`, which refuses an unknown name or a
version it does not run: scoring against a different generator would give a wrong truth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import msgpack

from swarmclient.errors import SwarmError
from swarmclient.tasks.base import Problem, Task, validate_seed
from swarmclient.tasks.builtin import BUILTIN_TASKS
from swarmclient.tasks.reasoning_gym import PREFIX as RG_PREFIX
from swarmclient.tasks.reasoning_gym import REASONING_GYM_TASKS, dataset_refusal
from swarmclient.tasks.rng import TaskRng, derive_key

MAX_REF_CHARS = 64

TASKS: Mapping[str, Task] = {task.name: task for task in (*BUILTIN_TASKS, *REASONING_GYM_TASKS)}
CHAR_TASKS: tuple[str, ...] = tuple(task.name for task in BUILTIN_TASKS)

# Named groups of tasks a peer can prefer; peers with different specialties make the swarm's
# pool of rollouts diverse, which is where SAPO's gain from sharing comes from.
SPECIALTIES: Mapping[str, tuple[str, ...]] = {
    "arithmetic": ("add", "sub", "mul"),
    "strings": ("reverse", "sort"),
    "counting": ("count", "max"),
    "builtin": CHAR_TASKS,
    # The reasoning-gym datasets of the SAPO paper's experiments that pass our allow-list
    # (bf, binary_matrix and propositional_logic do not: see reasoning_gym.DENIED).
    "sapo-paper": (
        "rg.arc_1d",
        "rg.base_conversion",
        "rg.basic_arithmetic",
        "rg.calendar_arithmetic",
        "rg.decimal_arithmetic",
        "rg.fraction_simplification",
    ),
}


def get_task(ref: object) -> Task:
    """The task named by `ref` ('name' or 'name@version'); SwarmError if unknown or other version."""
    if not isinstance(ref, str) or not ref or len(ref) > MAX_REF_CHARS:
        raise SwarmError("unknown-task", f"task reference must be a short string, got {ref!r:.80}")
    name, sep, version = ref.partition("@")
    task = TASKS.get(name)
    if task is None:
        if name.startswith(RG_PREFIX):
            raise dataset_refusal(name[len(RG_PREFIX) :])
        raise SwarmError("unknown-task", f"no task named {name!r:.70}")
    if sep and version != str(task.version):
        raise SwarmError("task-version", f"{ref!r:.70} requested, this peer runs {task.ref}")
    return task


def regenerate(task_ref: object, params: object, seed: object) -> Problem:
    """Ground truth of a received rollout, rebuilt locally from (task, params, seed).

    Every input is validated first (names, types, ranges, size caps) and refused with a
    SwarmError whose reason says which: unknown-task, task-version, bad-params, bad-seed,
    task-unavailable or generation-failed.
    """
    return get_task(task_ref).generate(params, seed)


def score_completion(task_ref: object, params: object, seed: object, completion: object) -> float:
    """Reward in [0, 1] of `completion` against the locally regenerated truth."""
    task = get_task(task_ref)
    return task.score(task.generate(params, seed), completion)


def specialty_tasks(specialties: Iterable[str]) -> frozenset[str]:
    """Task names of the named specialties (a task name may be given directly too)."""
    names: set[str] = set()
    for item in specialties:
        if item in SPECIALTIES:
            names.update(SPECIALTIES[item])
        elif item in TASKS:
            names.add(item)
        else:
            raise SwarmError("unknown-specialty", f"{item!r} is neither a specialty nor a task")
    return frozenset(names)


@dataclass(frozen=True)
class TaskInstance:
    """What a rollout carries about its problem: the task reference, parameters and seed."""

    task: str
    params: Mapping[str, int]
    seed: int

    def problem(self) -> Problem:
        return regenerate(self.task, self.params, self.seed)


def round_seed_material(peer_id: str, round_index: int) -> bytes:
    """The key a peer draws its tasks from in a round: public, so anyone can check the draw."""
    if round_index < 0:
        raise SwarmError("bad-round", f"round {round_index} is negative")
    return derive_key("swarm.round", peer_id, round_index)


def sample_instances(
    tasks: Sequence[str],
    count: int,
    key: bytes,
    params: Mapping[str, Mapping[str, int]] | None = None,
) -> list[TaskInstance]:
    """`count` task instances, each task drawn uniformly from `tasks`, seeds from `key`.

    `params` optionally maps a task name to its parameters (validated here, so a bad local
    configuration fails at once rather than on every receiver).
    """
    if not tasks:
        raise SwarmError("no-tasks", "cannot sample from an empty task list")
    if count < 0:
        raise SwarmError("bad-count", f"count {count} is negative")
    resolved = [get_task(name) for name in tasks]
    chosen_params = {task.name: task.validate_params((params or {}).get(task.name)) for task in resolved}
    rng = TaskRng(derive_key("swarm.sample", key))
    out = []
    for _ in range(count):
        task = rng.choice(resolved)
        out.append(TaskInstance(task.ref, dict(chosen_params[task.name]), validate_seed(rng.u64())))
    return out


def fingerprint(task_refs: Iterable[str] | None = None, seeds: Sequence[int] = (0, 1, 2**63 + 5)) -> dict[str, str]:
    """Per task, a short hash of the problems it generates at its lowest, default and highest
    parameters for `seeds`. Two peers whose fingerprints differ would regenerate different
    truths for the same rollout (a different generator or library version): comparing them,
    e.g. in capabilities, finds that before any reward is disputed."""
    out = {}
    for ref in task_refs if task_refs is not None else TASKS:
        task = get_task(ref)
        h = hashlib.sha256()
        settings = [
            {key: spec.lo for key, spec in task.schema.items()},
            {},
            {key: spec.hi for key, spec in task.schema.items()},
        ]
        for params in settings:
            for seed in seeds:
                problem = task.generate(params, seed)
                h.update(msgpack.packb([problem.prompt, problem.answer]))
        out[task.ref] = h.hexdigest()[:16]
    return out
