"""Built-in procedural tasks that a tiny character-level transformer can learn on a CPU.

Every prompt is `<task word> <input>=` and the answer follows on the same line, ended by
ANSWER_END. Rewards are 1.0 for the exact answer; partial credit, where a task has any, is
below 0.5 and is gated so that it cannot be farmed by a constant or input-echoing policy
(see each task's `reward_doc` and docs/tasks.md; tests/tasks checks the bounds).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from swarmclient.tasks.base import CharTask, IntParam, Problem
from swarmclient.tasks.rng import TaskRng

LETTERS = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")

# Partial credit stays strictly below this, so only the exact answer reaches 1.0 and a
# completely right answer always beats any near miss by a wide margin.
PARTIAL_WEIGHT = 0.5


def numeric_credit(answer: str, truth: str) -> float:
    """1.0 for the exact integer; else, for a well-formed integer of the right sign,
    PARTIAL_WEIGHT x the share of digits right when both are aligned on the units digit."""
    if answer == truth:
        return 1.0
    if not _INTEGER.fullmatch(answer):
        return 0.0
    if answer.startswith("-") != truth.startswith("-"):
        return 0.0
    got, want = answer.lstrip("-")[::-1], truth.lstrip("-")[::-1]
    right = sum(a == b for a, b in zip(got, want))
    return PARTIAL_WEIGHT * right / max(len(got), len(want))


def permutation_credit(answer: str, truth: str) -> float:
    """1.0 for the exact string; else, only when the answer uses exactly the truth's characters
    (a permutation of them), PARTIAL_WEIGHT x the share of positions right."""
    if answer == truth:
        return 1.0
    if len(answer) != len(truth) or Counter(answer) != Counter(truth):
        return 0.0
    right = sum(a == b for a, b in zip(answer, truth))
    return PARTIAL_WEIGHT * right / len(truth)


def _number(rng: TaskRng, digits: int) -> int:
    return rng.below(10**digits)


class AddTask(CharTask):
    name = "add"
    version = 1
    schema = {"digits": IntParam(1, 9, 2, "digits of each operand (operands uniform in [0, 10^digits))")}
    description = "add two non-negative integers: `add 47+85=` -> `132`"
    reward_doc = "1 exact; else 0.5 x share of digits right (units-aligned) for a well-formed integer"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        a, b = _number(rng, params["digits"]), _number(rng, params["digits"])
        return f"add {a}+{b}=", str(a + b), {"operands": (a, b)}

    def credit(self, problem: Problem, answer: str) -> float:
        return numeric_credit(answer, problem.answer)


class SubTask(CharTask):
    name = "sub"
    version = 1
    schema = {"digits": IntParam(1, 9, 2, "digits of each operand; the difference may be negative")}
    description = "subtract: `sub 47-85=` -> `-38`"
    reward_doc = "1 exact; else 0.5 x share of digits right for a well-formed integer of the right sign"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        a, b = _number(rng, params["digits"]), _number(rng, params["digits"])
        return f"sub {a}-{b}=", str(a - b), {"operands": (a, b)}

    def credit(self, problem: Problem, answer: str) -> float:
        return numeric_credit(answer, problem.answer)


class MulTask(CharTask):
    name = "mul"
    version = 1
    schema = {"digits": IntParam(1, 6, 2, "digits of the first operand; the second is one digit in 2..9")}
    description = "multiply by one digit: `mul 47*8=` -> `376`"
    reward_doc = "1 exact; else 0.5 x share of digits right (units-aligned) for a well-formed integer"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        # 0 and 1 as multipliers would make the answer guessable from the prompt alone.
        a, b = _number(rng, params["digits"]), rng.randint(2, 9)
        return f"mul {a}*{b}=", str(a * b), {"operands": (a, b)}

    def credit(self, problem: Problem, answer: str) -> float:
        return numeric_credit(answer, problem.answer)


class CountTask(CharTask):
    name = "count"
    version = 1
    schema = {
        "length": IntParam(3, 32, 8, "length of the string"),
        "letters": IntParam(2, 26, 4, "alphabet size (the first `letters` lower-case letters)"),
    }
    description = "count one letter in a string: `count b in abbacdba=` -> `4`"
    reward_doc = "1 exact, else 0 (the count is uniform over 0..length, so a constant earns 1/(length+1))"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        length, alphabet = params["length"], LETTERS[: params["letters"]]
        target = rng.choice(alphabet)
        others = alphabet.replace(target, "")
        # The count itself is drawn uniformly, so no constant answer is right more than
        # 1/(length+1) of the time (a binomial count would reward guessing its mode).
        count = rng.below(length + 1)
        chars = [target] * count + [rng.choice(others) for _ in range(length - count)]
        rng.shuffle(chars)
        return f"count {target} in {''.join(chars)}=", str(count), {"target": target}

    def credit(self, problem: Problem, answer: str) -> float:
        return 1.0 if answer == problem.answer else 0.0


class ReverseTask(CharTask):
    name = "reverse"
    version = 1
    schema = {
        "length": IntParam(2, 24, 5, "length of the string"),
        "letters": IntParam(4, 26, 26, "alphabet size"),
    }
    description = "reverse a string: `reverse abcde=` -> `edcba`"
    reward_doc = "1 exact; else, for a permutation of the input only, 0.5 x share of positions right"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        alphabet = LETTERS[: params["letters"]]
        text = "".join(rng.choice(alphabet) for _ in range(params["length"]))
        return f"reverse {text}=", text[::-1], {"input": text}

    def credit(self, problem: Problem, answer: str) -> float:
        return permutation_credit(answer, problem.answer)


class SortTask(CharTask):
    name = "sort"
    version = 1
    schema = {"length": IntParam(3, 24, 6, "number of digits to sort")}
    description = "sort digits ascending: `sort 3141592=` -> `1123459`"
    reward_doc = "1 exact; else, for a permutation of the input only, 0.5 x share of positions right"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        text = "".join(rng.choice(DIGITS) for _ in range(params["length"]))
        return f"sort {text}=", "".join(sorted(text)), {"input": text}

    def credit(self, problem: Problem, answer: str) -> float:
        return permutation_credit(answer, problem.answer)


class MaxTask(CharTask):
    name = "max"
    version = 1
    schema = {"count": IntParam(2, 16, 5, "how many digits in the list")}
    description = "largest digit of a list: `max 3,9,2,7=` -> `9`"
    reward_doc = "1 exact, else 0 (the maximum is uniform over 0..9, so a constant earns 0.1)"

    def make(self, params: dict[str, int], rng: TaskRng) -> tuple[str, str, dict[str, Any]]:
        count = params["count"]
        # Draw the maximum first, uniformly: with independent digits `9` would be right
        # most of the time and a constant answer would farm the reward.
        top = rng.below(10)
        where = rng.below(count)
        values = [top if i == where else rng.below(top + 1) for i in range(count)]
        return f"max {','.join(map(str, values))}=", str(top), {"values": tuple(values)}

    def credit(self, problem: Problem, answer: str) -> float:
        return 1.0 if answer == problem.answer else 0.0


BUILTIN_TASKS: tuple[CharTask, ...] = (
    AddTask(),
    SubTask(),
    MulTask(),
    CountTask(),
    ReverseTask(),
    SortTask(),
    MaxTask(),
)
