"""reasoning-gym datasets as tasks, for peers running larger (tokenizer-based) policies.

Task `rg.<dataset>` builds its problem as `create_dataset(dataset, seed=seed, size=1, **params)[0]`
and scores with that dataset's own `score_answer` on the text between the completion's last
<answer> and </answer> tags. reasoning-gym generates and scores offline (word lists and the
like ship in the wheel; tests/tasks checks that no socket is opened).

Only datasets on ALLOWED are served. Each was checked (tests/tasks and docs/tasks.md) to be:
deterministic from the seed, also across PYTHONHASHSEED values (several datasets iterate over
sets of strings and are not); scored 1.0 on its own stored answer; not farmable by a constant
answer (best constant < 0.15 mean reward over 100 seeds); and safe to score on a hostile
completion (several scorers call `eval()` on the completion: code execution by any peer).
Per dataset, only the listed integer config fields may be set by a rollout, within the listed
ranges; everything else (file names, operator lists, sizes) stays at the library's default.

The library is imported on first use: it takes seconds to import, and character-level peers
never need it.
"""

from __future__ import annotations

import contextlib
import decimal
import importlib.metadata
import warnings
from collections.abc import Mapping
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.tasks.base import IntParam, Problem, Task

PREFIX = "rg."
# Ground truth must be the same on every peer, so every peer must run the same generators.
PINNED_VERSION = "0.1.25"

ALLOWED: Mapping[str, Mapping[str, IntParam]] = {
    "arc_1d": {"max_size": IntParam(10, 30, 30, "longest grid row")},
    "base_conversion": {"max_value": IntParam(16, 10000, 1000, "largest number to convert")},
    "basic_arithmetic": {
        "max_terms": IntParam(2, 6, 6, "most terms in the expression"),
        "max_digits": IntParam(1, 4, 4, "most digits per term"),
    },
    "bitwise_arithmetic": {"difficulty": IntParam(1, 4, 2, "expression nesting depth")},
    "calendar_arithmetic": {},
    "chain_sum": {
        "max_terms": IntParam(2, 8, 6, "most terms"),
        "max_digits": IntParam(1, 6, 4, "most digits per term"),
    },
    "complex_arithmetic": {},
    "decimal_arithmetic": {"max_terms": IntParam(2, 6, 6, "most terms")},
    "decimal_chain_sum": {
        "max_terms": IntParam(2, 6, 6, "most terms"),
        "max_digits": IntParam(1, 4, 4, "most integer digits per term"),
    },
    "fraction_simplification": {"max_value": IntParam(10, 1000, 1000, "largest numerator/denominator factor base")},
    "lcm": {"max_value": IntParam(10, 1000, 100, "largest number")},
    "leg_counting": {"max_animals": IntParam(3, 10, 10, "most kinds of animal")},
    "products": {"max_digits": IntParam(1, 5, 5, "most digits per factor")},
    "spell_backward": {"max_word_len": IntParam(3, 10, 10, "longest word")},
}

# Config fields set by us for every problem, whatever the rollout says. base_conversion's
# default min_value of 0 yields an empty answer for 0, which its scorer cannot accept.
FIXED_CONFIG: Mapping[str, Mapping[str, Any]] = {"base_conversion": {"min_value": 1}}

_EVALS = "its scorer runs eval() on the completion: any peer could execute code on the receiver"
_HASHSEED = "generation depends on PYTHONHASHSEED (iterates a set of strings): peers disagree on the truth"
_CONSTANT = "a constant answer earns a high reward"
_NO_ORACLE = "its stored answer does not score 1.0 under its own scorer, so the truth cannot be checked"

DENIED: Mapping[str, str] = {
    "coin_flip": f"{_CONSTANT} (about 0.8 in 0.1.25: it scores probabilities, not outcomes)",
    "syllogism": f"{_CONSTANT} (yes/no answers)",
    "course_schedule": f"{_CONSTANT} (True/False answers)",
    "game_of_life_halting": f"{_CONSTANT} (True/False answers)",
    "game_of_life": f"{_CONSTANT} (mostly empty boards)",
    "circuit_logic": f"{_CONSTANT} (0/1 answers)",
    "gcd": f"{_CONSTANT} (small gcds dominate: '1' or '2' earns about 0.36)",
    "letter_counting": f"{_CONSTANT} (small counts dominate: '1' earns about 0.36)",
    "puzzle24": f"{_CONSTANT}; also {_EVALS} (sympy parse_expr)",
    "binary_matrix": _EVALS,
    "string_insertion": _EVALS,
    "spiral_matrix": _EVALS,
    "n_queens": _EVALS,
    "countdown": f"{_EVALS} (sympy parse_expr)",
    "simple_integration": f"{_EVALS} (sympy parse_expr)",
    "intermediate_integration": f"{_EVALS} (sympy parse_expr)",
    "polynomial_multiplication": f"{_EVALS} (sympy parse_expr); also {_HASHSEED}",
    "bf": "generation prints to stdout (it would corrupt the dashboard) and takes about 0.25 s per problem",
    "codeio": "generation exec()s bundled code and takes about a second per problem",
    "isomorphic_strings": _HASHSEED,
    "knight_swap": f"{_HASHSEED}; also slow (seconds per problem)",
    "list_functions": _HASHSEED,
    "ransom_note": _HASHSEED,
    "word_ladder": _HASHSEED,
    "propositional_logic": _NO_ORACLE,
    "graph_color": _NO_ORACLE,
    "rubiks_cube": _NO_ORACLE,
    "rush_hour": _NO_ORACLE,
    "boxnet": "fails to generate with its default configuration in 0.1.25",
    "prime_factorization": "fails to generate with its default configuration in 0.1.25",
    "composite": "a meta-dataset configured with other datasets, not a task",
}

_module_cache: dict[str, Any] = {}


def _library() -> tuple[Any, Any]:
    """(reasoning_gym, reasoning_gym.utils), imported once, after checking the pinned version."""
    if "rg" not in _module_cache:
        try:
            installed = importlib.metadata.version("reasoning-gym")
        except importlib.metadata.PackageNotFoundError as exc:
            raise SwarmError("task-unavailable", "reasoning-gym is not installed") from exc
        if installed != PINNED_VERSION:
            raise SwarmError(
                "task-unavailable",
                f"reasoning-gym {installed} installed, tasks are defined by {PINNED_VERSION}",
            )
        with warnings.catch_warnings():
            # Its dependencies emit SyntaxWarnings on first compile; they are not ours to fix.
            warnings.simplefilter("ignore")
            import reasoning_gym
            import reasoning_gym.utils
        _module_cache["rg"] = (reasoning_gym, reasoning_gym.utils)
    return _module_cache["rg"]


def _fixed_decimal_context() -> contextlib.AbstractContextManager:
    """Generate and score under Python's default decimal context, whatever the thread has.

    Some datasets (decimal_arithmetic, ...) compute with `decimal` and set its precision.
    Another library in the same process may have replaced the thread's context: vyper, on
    import, installs one with precision 78 that raises on any lower precision. Under it those
    datasets failed, and under any other context they could produce different problems, so
    two honest peers would disagree on the ground truth."""
    return decimal.localcontext(decimal.Context())


class ReasoningGymTask(Task):
    """One allowed reasoning-gym dataset as a task (see the module docstring)."""

    version = 1
    char_level = False
    max_completion_chars = 16384
    answer_instruction = "\n\nGive only the final answer, between <answer> and </answer>."

    def __init__(self, dataset: str) -> None:
        if dataset not in ALLOWED:
            raise dataset_refusal(dataset)
        self.dataset = dataset
        self.name = PREFIX + dataset  # type: ignore[misc]
        self.schema = ALLOWED[dataset]  # type: ignore[misc]
        self.description = f"reasoning-gym {PINNED_VERSION} dataset {dataset!r}"  # type: ignore[misc]
        self.reward_doc = f"{dataset}.score_answer on the last <answer>...</answer> span; 0 without one"  # type: ignore[misc]

    def _build(self, params: dict[str, int], seed: int) -> tuple[str, str, dict[str, Any]]:
        rg, _ = _library()
        try:
            with _fixed_decimal_context():
                config = {**params, **FIXED_CONFIG.get(self.dataset, {})}
                dataset = rg.create_dataset(self.dataset, seed=seed, size=1, **config)
                entry = dataset[0]
                question, answer = entry["question"], entry["answer"]
                # A problem whose own answer does not earn 1.0 cannot be learnt or verified.
                truth_reward = dataset.score_answer(str(answer), entry)
        # A third-party generator: whatever it raises for a configuration inside our ranges
        # is reported as this task's failure, not as a crash of the peer.
        except Exception as exc:  # noqa: BLE001
            raise SwarmError("generation-failed", f"{self.name}: {type(exc).__name__}: {exc}"[:200]) from exc
        if not isinstance(question, str):
            raise SwarmError("generation-failed", f"{self.name}: question is not text")
        if truth_reward != 1.0:
            raise SwarmError("generation-failed", f"{self.name}: seed {seed} gives an answer its scorer rejects")
        return question + self.answer_instruction, str(answer), {"dataset": dataset, "entry": entry}

    def _reward(self, problem: Problem, completion: str) -> float:
        _, utils = _library()
        extracted = utils.extract_answer(completion)
        if extracted is None:
            return 0.0
        try:
            with _fixed_decimal_context():
                return problem.meta["dataset"].score_answer(extracted, problem.meta["entry"])
        # The completion comes from another peer; a scorer that trips over it earned nothing.
        except Exception:  # noqa: BLE001
            return 0.0

    def target(self, problem: Problem) -> str:
        return f"<answer>{problem.answer}</answer>"


def dataset_refusal(dataset: str) -> SwarmError:
    """Why `dataset` is not served: denied with a reason, or never reviewed."""
    if dataset in DENIED:
        return SwarmError("task-denied", f"reasoning-gym {dataset!r}: {DENIED[dataset]}")
    return SwarmError("unknown-task", f"reasoning-gym {dataset!r:.60} is not on the allow-list")


REASONING_GYM_TASKS: tuple[ReasoningGymTask, ...] = tuple(ReasoningGymTask(name) for name in ALLOWED)
