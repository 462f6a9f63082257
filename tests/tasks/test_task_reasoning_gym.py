"""The reasoning-gym adapter: allow-list verified deterministic, offline, scored, not gameable."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from swarmclient.errors import SwarmError
from swarmclient.tasks import REASONING_GYM_ALLOWED, REASONING_GYM_DENIED, fingerprint, get_task, regenerate

ROOT = Path(__file__).resolve().parents[2]
RG_TASKS = ["rg." + name for name in REASONING_GYM_ALLOWED]

# Runs in a fresh interpreter with another PYTHONHASHSEED, with every way out to the network
# replaced by a failure *before* reasoning-gym is imported: generation and scoring must work
# offline, and give the same problems as this process.
CHILD = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from swarmclient.tasks import TASKS, fingerprint, get_task
refs = sys.argv[1:]
scores = {}
for ref in refs:
    task = get_task(ref)
    problem = task.generate({}, 11)
    scores[ref] = task.score(problem, task.target(problem))
print("RESULT" + json.dumps({"fingerprint": fingerprint(refs), "scores": scores}))
"""


def test_pinned_library_version():
    assert importlib.metadata.version("reasoning-gym") == "0.1.25"


def test_allow_and_deny_lists_are_disjoint_and_reasoned():
    assert not set(REASONING_GYM_ALLOWED) & set(REASONING_GYM_DENIED)
    assert "coin_flip" in REASONING_GYM_DENIED
    assert all(len(reason) > 20 for reason in REASONING_GYM_DENIED.values())


def test_deterministic_across_processes_and_hash_seeds_and_offline():
    refs = RG_TASKS + ["add", "count", "reverse"]
    env = dict(os.environ, PYTHONHASHSEED="0" if sys.flags.hash_randomization else "4242")
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD, *refs],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    child = json.loads(done.stdout[done.stdout.index("RESULT") + len("RESULT") :])
    assert child["fingerprint"] == fingerprint(refs)
    assert set(child["scores"].values()) == {1.0}


@pytest.mark.parametrize("ref", RG_TASKS)
def test_truth_scores_one_at_every_parameter_edge(ref):
    task = get_task(ref)
    settings = [{}, {k: s.lo for k, s in task.schema.items()}, {k: s.hi for k, s in task.schema.items()}]
    for params in settings:
        for seed in (0, 7, 2**64 - 1):
            problem = task.generate(params, seed)
            again = regenerate(problem.task, params, seed)
            assert (again.prompt, again.answer) == (problem.prompt, problem.answer)
            assert task.score(problem, task.target(problem)) == 1.0
            assert task.score(problem, f"thinking...\n{task.target(problem)}") == 1.0
            assert task.score(problem, problem.answer) == 0.0, "an answer outside the tags is not read"


@pytest.mark.parametrize("ref", RG_TASKS)
def test_constant_answers_earn_little(ref):
    task = get_task(ref)
    problems = [task.generate({}, seed) for seed in range(40)]
    candidates = [a for a, _ in Counter(p.answer for p in problems).most_common(3)] + ["", "0", "1", "True"]
    best = max(sum(task.score(p, f"<answer>{c}</answer>") for p in problems) / len(problems) for c in candidates)
    assert best < 0.2, f"{ref}: a constant answer earns {best:.2f}"


HOSTILE = [
    "<answer>__import__('os').system('echo pwned')</answer>",
    "<answer>" + "9" * 5000 + "</answer>",
    "<answer>1e999999999</answer>",
    "<answer>[[1, 2], [3</answer>",
    "<answer>\x00\udcff</answer>",
    "<answer></answer>",
    "<answer>",
]


@pytest.mark.parametrize("ref", RG_TASKS)
def test_hostile_completions_score_in_range(ref):
    task = get_task(ref)
    problem = task.generate({}, 3)
    for completion in HOSTILE:
        assert 0.0 <= task.score(problem, completion) <= 1.0
    with pytest.raises(SwarmError) as err:
        task.score(problem, "x" * (task.max_completion_chars + 1))
    assert err.value.reason == "bad-completion"


@pytest.mark.parametrize(
    "ref, params",
    [
        ("rg.spell_backward", {"data_file": "/etc/passwd"}),
        ("rg.chain_sum", {"size": 10**9}),
        ("rg.chain_sum", {"seed": 5}),
        ("rg.chain_sum", {"max_digits": 10**6}),
        ("rg.basic_arithmetic", {"operators": ["**"]}),
        ("rg.calendar_arithmetic", {"year": 1}),
    ],
)
def test_config_outside_the_schema_refused(ref, params):
    with pytest.raises(SwarmError) as err:
        regenerate(ref, params, 1)
    assert err.value.reason == "bad-params"


@pytest.mark.parametrize("name", sorted(REASONING_GYM_DENIED))
def test_denied_datasets_refused_with_their_reason(name):
    with pytest.raises(SwarmError) as err:
        regenerate("rg." + name, {}, 1)
    assert err.value.reason == "task-denied"
    assert REASONING_GYM_DENIED[name] in err.value.detail


def test_library_is_imported_only_on_first_use():
    # Character-level peers never pay reasoning-gym's multi-second import.
    code = (
        "import sys; import swarmclient.tasks as t; assert 'reasoning_gym' not in sys.modules;"
        "t.get_task('rg.chain_sum'); assert 'reasoning_gym' not in sys.modules; print('ok')"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_ground_truth_ignores_the_threads_decimal_context():
    """Regression: vyper, once imported, installs a decimal context with precision 78 that
    raises on any lower precision; decimal_arithmetic then failed to generate (and under any
    other context could have produced different problems than on a peer without vyper)."""
    import decimal
    import threading

    ref = "rg.decimal_arithmetic"
    seeds = range(5)
    plain = [regenerate(ref, {}, seed) for seed in seeds]

    class PrecisionLocked(decimal.Context):
        def __setattr__(self, name, value):
            if name == "prec" and value != 78:
                raise RuntimeError("precision is locked")
            super().__setattr__(name, value)

    results: list = []

    def under_locked_context():
        decimal.setcontext(PrecisionLocked(prec=78))
        results.extend(regenerate(ref, {}, seed) for seed in seeds)

    worker = threading.Thread(target=under_locked_context)
    worker.start()
    worker.join()
    assert [(p.prompt, p.answer) for p in results] == [(p.prompt, p.answer) for p in plain]
