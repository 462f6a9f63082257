"""Synthetic rollouts for a swarm without a training loop yet (devnet, gossip benchmark).

Each round a peer shares groups of completions of small procedural tasks, the shape SAPO
will share: a task generator's name, its parameters and seed, and G text completions with
reasoning and an answer (some right, some wrong). Everything is a pure function of
(peer id, round), so a batch can be regenerated anywhere, and its size follows a log-uniform
spread from a few KB to ~200 KB as real batches of short and long generations would.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field

MIN_BATCH_BYTES = 2 * 1024
MAX_BATCH_BYTES = 200 * 1024
COMPLETIONS_PER_GROUP = 4


@dataclass(frozen=True)
class SyntheticGroup:
    task: str
    params: dict[str, int | str]
    seed: int
    completions: list[str] = field(default_factory=list)

    def text_bytes(self) -> int:
        return sum(len(c.encode()) for c in self.completions)


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _arithmetic(rng: random.Random) -> tuple[dict, str, list[str], str]:
    digits = rng.randint(2, 5)
    a, b = rng.randrange(10 ** (digits - 1), 10**digits), rng.randrange(10 ** (digits - 1), 10**digits)
    op = rng.choice(["+", "-", "*"])
    answer = {"+": a + b, "-": a - b, "*": a * b}[op]
    steps = []
    if op == "*":
        for i, d in enumerate(reversed(str(b))):
            steps.append(f"{a} x {d} x 10^{i} = {a * int(d) * 10**i}")
        steps.append(f"Adding the partial products gives {answer}.")
    else:
        steps.append(f"Line up the digits of {a} and {b} and work from the right.")
        steps.append(f"{a} {op} {b} = {answer}.")
    return {"digits": digits, "op": op}, f"What is {a} {op} {b}?", steps, str(answer)


def _sorting(rng: random.Random) -> tuple[dict, str, list[str], str]:
    n = rng.randint(4, 12)
    items = [rng.randint(-99, 99) for _ in range(n)]
    ordered = sorted(items)
    steps = [f"Smallest remaining is {v}." for v in ordered]
    return {"length": n}, f"Sort ascending: {items}", steps, " ".join(map(str, ordered))


def _letter_count(rng: random.Random) -> tuple[dict, str, list[str], str]:
    words = ["strawberry", "banana", "mississippi", "parallelogram", "bookkeeper", "committee", "assessment"]
    word, letter = rng.choice(words), rng.choice("aeiorstmp")
    positions = [i + 1 for i, ch in enumerate(word) if ch == letter]
    steps = [f"Position {i + 1} is '{ch}'{' (match)' if ch == letter else ''}." for i, ch in enumerate(word)]
    return {"word": word, "letter": letter}, f"How many '{letter}' in '{word}'?", steps, str(len(positions))


def _linear_equation(rng: random.Random) -> tuple[dict, str, list[str], str]:
    x = rng.randint(-20, 20)
    a = rng.choice([v for v in range(-9, 10) if v])
    b = rng.randint(-50, 50)
    c = a * x + b
    steps = [
        f"Start from {a}x + {b} = {c}.",
        f"Subtract {b} from both sides: {a}x = {c - b}.",
        f"Divide both sides by {a}: x = {x}.",
        f"Check: {a} * {x} + {b} = {c}.",
    ]
    return {"range": 20}, f"Solve for x: {a}x + {b} = {c}", steps, str(x)


TASKS = {
    "arithmetic": _arithmetic,
    "sorting": _sorting,
    "letter_count": _letter_count,
    "linear_equation": _linear_equation,
}


def _completion(rng: random.Random, question: str, steps: list[str], answer: str) -> str:
    # A policy early in training rambles, repeats itself and is often wrong: vary all three.
    shown = steps[: rng.randint(1, len(steps))] * rng.randint(1, 3)
    wrong = rng.random() < 0.4
    final = answer if not wrong else str(rng.randint(-999, 9999))
    thoughts = " ".join(shown)
    return f"<think>{question} {thoughts}</think> <answer>{final}</answer>"


def batch_target_bytes(peer_id: str, round_index: int) -> int:
    rng = _rng("size", peer_id, round_index)
    return int(math.exp(rng.uniform(math.log(MIN_BATCH_BYTES), math.log(MAX_BATCH_BYTES))))


def synthetic_groups(peer_id: str, round_index: int, target_bytes: int | None = None) -> list[SyntheticGroup]:
    """The groups peer `peer_id` shares in round `round_index`, about `target_bytes` of text
    (default: its deterministic size for that round). The last completion is trimmed so the
    total text is exactly `target_bytes` when one is given, which the benchmark relies on."""
    exact = target_bytes is not None
    target = target_bytes if exact else batch_target_bytes(peer_id, round_index)
    groups: list[SyntheticGroup] = []
    total = 0
    index = 0
    while total < target:
        seed = int.from_bytes(hashlib.sha256(f"{peer_id}/{round_index}/{index}".encode()).digest()[:4], "big")
        rng = random.Random(seed)
        name = rng.choice(sorted(TASKS))
        params, question, steps, answer = TASKS[name](rng)
        completions = []
        for _ in range(COMPLETIONS_PER_GROUP):
            text = _completion(rng, question, steps, answer)
            if exact and total + len(text) >= target:
                text = text[: target - total]
            completions.append(text)
            total += len(text)
            if total >= target:
                break
        groups.append(SyntheticGroup(name, params, seed, completions))
        index += 1
    return groups
