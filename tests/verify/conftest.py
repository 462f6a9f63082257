"""A very small SAPO learner (real torch, RepOps) whose updates the verify tests capture."""

from __future__ import annotations

import pytest

from repops.model import PolicyConfig
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.update import SapoLearner
from swarmclient.sapo.warmstart import warm_start

SMALL = SapoConfig(
    model=PolicyConfig(context=32, d_model=16, n_layer=1, n_head=2, d_mlp=32),
    tasks=("max", "count", "add"),
    instances_per_round=4,
    group_size=4,
    max_new=6,
    local_groups=2,
    external_groups=2,
    warm_steps=10,
    warm_batch=16,
    device="cpu",
)


@pytest.fixture(scope="session")
def warm_model(tmp_path_factory):
    return warm_start(SMALL, tmp_path_factory.mktemp("warm"), "cpu")


@pytest.fixture
def learner(warm_model):
    return SapoLearner("12D3KooWverify-test-peer", SMALL, warm_model, "cpu")


def run_round(learner: SapoLearner, r: int):
    """One local-only SAPO round: generate, then update on the peer's own groups."""
    local = [g.group for g in learner.generate(r)]
    return learner.update(r, local, [])
