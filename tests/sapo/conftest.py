"""Shared fixtures: a very small SAPO configuration and its (cached) warm start."""

from __future__ import annotations

import pytest

from repops.model import PolicyConfig
from swarmclient.sapo.config import SapoConfig
from swarmclient.sapo.warmstart import warm_start

SMALL = SapoConfig(
    model=PolicyConfig(context=32, d_model=16, n_layer=1, n_head=2, d_mlp=32),
    tasks=("max", "count", "add"),
    instances_per_round=4,
    group_size=4,
    max_new=6,
    local_groups=2,
    external_groups=2,
    warm_steps=20,
    warm_batch=16,
    device="cpu",
)


@pytest.fixture(scope="session")
def small_cfg() -> SapoConfig:
    return SMALL


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("warm")


@pytest.fixture(scope="session")
def warm_model(warm_cache):
    return warm_start(SMALL, warm_cache, "cpu")
