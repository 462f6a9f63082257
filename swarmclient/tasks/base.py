"""The task interface: named, versioned, deterministic problem generators with a verifier.

A rollout on the wire names its task (`name@version`), parameters and seed, never its answer
or reward: every receiver calls `Task.generate(params, seed)` itself and scores the completion
against the truth it regenerated. Parameters arrive from untrusted peers, so each task declares
a closed schema (names, integer ranges) and `validate_params` refuses anything else before a
single problem is built: a hostile peer cannot make a receiver build a huge problem.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar

from swarmclient.errors import SwarmError
from swarmclient.tasks.rng import TaskRng, derive_key
from swarmclient.tasks.vocab import ANSWER_END

SEED_LIMIT = 1 << 64
MAX_PARAMS = 16


@dataclass(frozen=True)
class IntParam:
    """An integer parameter in [lo, hi] with a default; `doc` says what it controls."""

    lo: int
    hi: int
    default: int
    doc: str = ""

    def __post_init__(self) -> None:
        if not self.lo <= self.default <= self.hi:
            raise ValueError(f"default {self.default} outside [{self.lo}, {self.hi}]")


@dataclass(frozen=True)
class Problem:
    """One generated problem. `answer` is the ground truth text (without ANSWER_END)."""

    task: str  # the versioned reference, "name@version"
    params: Mapping[str, int]  # normalised: every schema key, defaults filled in
    seed: int
    prompt: str
    answer: str
    meta: Mapping[str, Any] = field(default_factory=dict)


def validate_seed(seed: object) -> int:
    """A seed is an int in [0, 2**64); bools and other types are refused."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise SwarmError("bad-seed", f"seed must be an integer, got {type(seed).__name__}")
    if not 0 <= seed < SEED_LIMIT:
        raise SwarmError("bad-seed", f"seed {seed} outside [0, 2**64)")
    return seed


def validate_params(ref: str, schema: Mapping[str, IntParam], params: object) -> dict[str, int]:
    """Check `params` against `schema`; return every schema key, sorted, defaults filled in."""
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise SwarmError("bad-params", f"{ref}: parameters must be a map, got {type(params).__name__}")
    if len(params) > MAX_PARAMS:
        raise SwarmError("bad-params", f"{ref}: {len(params)} parameters (at most {MAX_PARAMS})")
    out: dict[str, int] = {}
    for key, value in params.items():
        if not isinstance(key, str) or key not in schema:
            allowed = ", ".join(sorted(schema)) or "none"
            raise SwarmError("bad-params", f"{ref}: unknown parameter {key!r} (allowed: {allowed})")
        spec = schema[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise SwarmError("bad-params", f"{ref}: {key} must be an integer, got {type(value).__name__}")
        if not spec.lo <= value <= spec.hi:
            raise SwarmError("bad-params", f"{ref}: {key}={value} outside [{spec.lo}, {spec.hi}]")
        out[key] = value
    for key, spec in schema.items():
        out.setdefault(key, spec.default)
    return dict(sorted(out.items()))


def clamp_reward(value: object) -> float:
    """Rewards are floats in [0, 1]; anything else (NaN, inf, a non-number) counts as 0."""
    try:
        reward = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(reward):
        return 0.0
    return min(1.0, max(0.0, reward))


class Task(ABC):
    """A named, versioned, deterministic task.

    Subclasses set `name`, `version`, `schema` and `description`, and implement
    `_build(params, seed)` and `_reward(problem, completion)`.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    schema: ClassVar[Mapping[str, IntParam]]
    description: ClassVar[str] = ""
    reward_doc: ClassVar[str] = ""
    # Character-level tasks live in the fixed vocabulary and context of the tiny policy.
    char_level: ClassVar[bool] = True
    # Completions longer than this are refused before scoring (they come from other peers).
    max_completion_chars: ClassVar[int] = 256

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def validate_params(self, params: object) -> dict[str, int]:
        return validate_params(self.ref, self.schema, params)

    def default_params(self) -> dict[str, int]:
        return self.validate_params({})

    def generate(self, params: object, seed: object) -> Problem:
        """The problem for (params, seed); the same inputs give the same problem on any peer."""
        normalised = self.validate_params(params)
        seed = validate_seed(seed)
        prompt, answer, meta = self._build(normalised, seed)
        return Problem(self.ref, MappingProxyType(normalised), seed, prompt, answer, MappingProxyType(meta))

    def score(self, problem: Problem | tuple[object, object], completion: object) -> float:
        """Reward in [0, 1] of `completion` for `problem` (or for the problem of (params, seed))."""
        if not isinstance(problem, Problem):
            if not isinstance(problem, tuple) or len(problem) != 2:
                raise SwarmError("bad-problem", "score takes a Problem or a (params, seed) pair")
            problem = self.generate(*problem)
        elif problem.task != self.ref:
            raise SwarmError("task-mismatch", f"problem of {problem.task} scored by {self.ref}")
        self.check_completion(completion)
        return clamp_reward(self._reward(problem, completion))  # type: ignore[arg-type]

    def check_completion(self, completion: object) -> None:
        if not isinstance(completion, str):
            raise SwarmError("bad-completion", f"completion must be text, got {type(completion).__name__}")
        if len(completion) > self.max_completion_chars:
            raise SwarmError(
                "bad-completion", f"completion of {len(completion)} chars (at most {self.max_completion_chars})"
            )

    def target(self, problem: Problem) -> str:
        """The ideal completion (what supervised warm-up trains on); it scores 1.0."""
        return problem.answer + ANSWER_END

    @abstractmethod
    def _build(self, params: dict[str, int], seed: int) -> tuple[str, str, dict[str, Any]]:
        """(prompt, answer, meta) for validated params and seed."""

    @abstractmethod
    def _reward(self, problem: Problem, completion: str) -> float:
        """Reward of a completion that passed check_completion."""


class CharTask(Task):
    """A built-in procedural task: prompts and answers in the fixed vocabulary, one line each."""

    def rng(self, seed: int) -> TaskRng:
        # The task's reference is part of the key so that two tasks given one seed draw
        # unrelated streams; the parameters are not, so raising the difficulty keeps the seed's
        # problem recognisably similar (useful when reading logs).
        return TaskRng(derive_key("swarm.tasks", self.ref, seed))

    def _build(self, params: dict[str, int], seed: int) -> tuple[str, str, dict[str, Any]]:
        return self.make(params, self.rng(seed))

    @abstractmethod
    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        """(prompt, answer, meta) drawn from `rng`."""

    def _reward(self, problem: Problem, completion: str) -> float:
        return self.credit(problem, extract_answer(completion))

    @abstractmethod
    def credit(self, problem: Problem, answer: str) -> float:
        """Reward of the extracted answer text: 1.0 exactly when it equals the truth."""


def extract_answer(completion: str) -> str:
    """A character-level completion's answer: the text before the first ANSWER_END (or all of it)."""
    end = completion.find(ANSWER_END)
    return completion if end < 0 else completion[:end]
