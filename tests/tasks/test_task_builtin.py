"""The built-in character-level tasks: determinism, truth, refusals, rewards that resist gaming."""

from __future__ import annotations

import hashlib
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from swarmclient.errors import SwarmError
from swarmclient.tasks import (
    ANSWER_END,
    CHARSET,
    CHAR_TASKS,
    CONTEXT_CHARS,
    extract_answer,
    get_task,
    in_vocab,
    numeric_credit,
    permutation_credit,
)

seeds = st.integers(0, 2**64 - 1)


@st.composite
def task_params(draw, names=CHAR_TASKS):
    task = get_task(draw(st.sampled_from(names)))
    params = {key: draw(st.integers(spec.lo, spec.hi)) for key, spec in task.schema.items()}
    # Leaving a key out means its default.
    drop = draw(st.sets(st.sampled_from(sorted(task.schema))))
    return task, {k: v for k, v in params.items() if k not in drop}


@given(task_params(), seeds)
def test_generation_is_deterministic_and_truth_scores_one(tp, seed):
    task, params = tp
    first, second = task.generate(params, seed), task.generate(dict(params), seed)
    assert (first.prompt, first.answer, dict(first.params)) == (second.prompt, second.answer, dict(second.params))
    assert task.score(first, task.target(first)) == 1.0
    assert task.score((params, seed), task.target(first)) == 1.0
    # The answer ends at ANSWER_END: anything after it is ignored.
    assert task.score(first, first.answer + ANSWER_END + "junk 123") == 1.0


@given(task_params(), seeds)
def test_prompt_and_answer_fit_vocabulary_and_context(tp, seed):
    task, params = tp
    problem = task.generate(params, seed)
    assert in_vocab(problem.prompt) and in_vocab(problem.answer)
    assert ANSWER_END not in problem.prompt and ANSWER_END not in problem.answer
    assert problem.prompt.endswith("=") and problem.prompt.startswith(task.name + " ")
    assert problem.answer, "empty answers are indistinguishable from no answer"


@pytest.mark.parametrize("name", CHAR_TASKS)
def test_context_budget_at_largest_parameters(name):
    task = get_task(name)
    biggest = {key: spec.hi for key, spec in task.schema.items()}
    for seed in range(200):
        problem = task.generate(biggest, seed)
        assert len(problem.prompt) + len(problem.answer) + len(ANSWER_END) <= CONTEXT_CHARS


@given(task_params(), seeds, st.text(alphabet=CHARSET, max_size=40))
def test_reward_is_in_range_and_one_only_for_the_truth(tp, seed, completion):
    task, params = tp
    problem = task.generate(params, seed)
    reward = task.score(problem, completion)
    assert 0.0 <= reward <= 1.0
    assert (reward == 1.0) == (extract_answer(completion) == problem.answer)
    # Partial credit never comes near a right answer.
    assert reward == 1.0 or reward < 0.5


@pytest.mark.parametrize("name", CHAR_TASKS)
def test_random_completions_almost_never_score_one(name):
    task = get_task(name)
    draw = get_task("reverse").rng(12345)  # any deterministic stream of characters will do
    hits = 0
    for seed in range(400):
        problem = task.generate({}, seed)
        length = 1 + draw.below(len(problem.answer) + 1)
        hits += task.score(problem, "".join(draw.choice("0123456789-abcdefghij") for _ in range(length))) == 1.0
    assert hits <= 20, f"{hits}/400 random completions were exactly right"


def _best_constant_and_echo(task, params, n=300):
    problems = [task.generate(params, seed) for seed in range(n)]
    candidates = [a for a, _ in Counter(p.answer for p in problems).most_common(20)] + ["", "0", "1", "9", "-1"]
    best = max(sum(task.score(p, c + ANSWER_END) for p in problems) / n for c in candidates)
    echo = sum(task.score(p, p.prompt[len(task.name) + 1 : -1] + ANSWER_END) for p in problems) / n
    return best, echo


@pytest.mark.parametrize("name", CHAR_TASKS)
def test_constant_or_echoed_answers_earn_little(name):
    task = get_task(name)
    for params, bound in [
        ({}, 0.2),
        ({k: s.hi for k, s in task.schema.items()}, 0.2),
        # The smallest settings have few possible answers; still bounded.
        ({k: s.lo for k, s in task.schema.items()}, 0.35),
    ]:
        best, echo = _best_constant_and_echo(task, params)
        assert best <= bound, f"{name} {params}: a constant answer earns {best:.3f}"
        assert echo <= bound, f"{name} {params}: echoing the input earns {echo:.3f}"


@pytest.mark.parametrize("name", CHAR_TASKS)
def test_bad_params_refused_with_reason(name):
    task = get_task(name)
    key, spec = next(iter(task.schema.items()))
    cases = [
        {key: spec.hi + 1},
        {key: spec.lo - 1},
        {key: 10**100},
        {key: str(spec.default)},
        {key: float(spec.default)},
        {key: True},
        {"nonsense": 1},
        {1: 2},
        [(key, spec.default)],
        "digits=2",
        {f"k{i}": 0 for i in range(1000)},
    ]
    for params in cases:
        with pytest.raises(SwarmError) as err:
            task.generate(params, 1)
        assert err.value.reason == "bad-params" and err.value.detail


@pytest.mark.parametrize("seed", [-1, 2**64, "1", 1.0, None, True])
def test_bad_seed_refused(seed):
    with pytest.raises(SwarmError) as err:
        get_task("add").generate({}, seed)
    assert err.value.reason == "bad-seed"


def test_score_needs_a_problem_or_a_pair():
    task = get_task("add")
    for bad in [(), ({}, 1, 2), "add 1+2=", {"digits": 2}]:
        with pytest.raises(SwarmError) as err:
            task.score(bad, "3\n")
        assert err.value.reason == "bad-problem"
    with pytest.raises(SwarmError) as err:
        task.score(get_task("sub").generate({}, 1), "3\n")
    assert err.value.reason == "task-mismatch"


@pytest.mark.parametrize("completion", [None, b"12\n", 12, "1" * 1000])
def test_bad_completion_refused(completion):
    task = get_task("add")
    with pytest.raises(SwarmError) as err:
        task.score(task.generate({}, 1), completion)
    assert err.value.reason == "bad-completion"


def test_seeds_and_tasks_give_different_problems():
    for name in CHAR_TASKS:
        task = get_task(name)
        prompts = {task.generate({}, seed).prompt for seed in range(100)}
        assert len(prompts) > 50, f"{name} repeats itself"
    # One seed, two tasks: unrelated streams.
    assert get_task("add").generate({"digits": 6}, 5).prompt[4:] != get_task("sub").generate({"digits": 6}, 5).prompt[4:]


def _spec_words(ref: str, seed: int):
    """The task stream as docs/tasks.md defines it, written out independently of TaskRng."""

    def part(tag: bytes, data: bytes) -> bytes:
        return len(tag + data).to_bytes(4, "big") + tag + data

    key = hashlib.sha256(
        part(b"s", b"swarm.tasks") + part(b"s", ref.encode()) + part(b"i", seed.to_bytes(max(1, (seed.bit_length() + 7) // 8), "big"))
    ).digest()
    counter = 0
    while True:
        block = hashlib.sha256(key + counter.to_bytes(8, "big")).digest()
        counter += 1
        for i in range(4):
            yield int.from_bytes(block[8 * i : 8 * i + 8], "big")


def _spec_below(words, n: int) -> int:
    limit = 2**64 - 2**64 % n
    for word in words:
        if word < limit:
            return word % n
    raise AssertionError("unreachable")


@given(st.integers(1, 9), seeds)
def test_add_follows_the_written_specification(digits, seed):
    words = _spec_words("add@1", seed)
    a, b = _spec_below(words, 10**digits), _spec_below(words, 10**digits)
    problem = get_task("add").generate({"digits": digits}, seed)
    assert (problem.prompt, problem.answer) == (f"add {a}+{b}=", str(a + b))


@given(st.integers(2, 16), seeds)
def test_max_follows_the_written_specification(count, seed):
    words = _spec_words("max@1", seed)
    top = _spec_below(words, 10)
    where = _spec_below(words, count)
    values = [top if i == where else _spec_below(words, top + 1) for i in range(count)]
    problem = get_task("max").generate({"count": count}, seed)
    assert (problem.prompt, problem.answer) == ("max " + ",".join(map(str, values)) + "=", str(top))


integers_text = st.integers(-(10**12), 10**12).map(str)


@given(integers_text, integers_text)
def test_numeric_credit(answer, truth):
    credit = numeric_credit(answer, truth)
    assert credit == 1.0 if answer == truth else 0.0 <= credit < 0.5
    if answer.startswith("-") != truth.startswith("-"):
        assert credit == 0.0
    assert numeric_credit(answer + "x", truth) == 0.0 or answer + "x" == truth
    assert numeric_credit("0" + answer.lstrip("-"), truth) == 0.0 or answer.lstrip("-") == ""


@given(st.text(alphabet="abc123", max_size=12), st.text(alphabet="abc123", min_size=1, max_size=12))
def test_permutation_credit(answer, truth):
    credit = permutation_credit(answer, truth)
    if answer == truth:
        assert credit == 1.0
    elif sorted(answer) != sorted(truth):
        assert credit == 0.0
    else:
        assert 0.0 <= credit < 0.5
