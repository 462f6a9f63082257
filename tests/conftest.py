"""Shared test fixtures. Tests run under pytest-trio (trio_mode = true in pyproject.toml)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI has 2 cores; hypothesis deadlines would make slow-but-correct runs flaky.
settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def swarm_home(tmp_path, monkeypatch):
    """An isolated $SWARM_HOME."""
    home = tmp_path / "swarm-home"
    monkeypatch.setenv("SWARM_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def warm_start_cache(tmp_path_factory):
    """One SAPO warm-start cache for the session's multi-process tests. Entries are keyed by
    the config's hash and built under a file lock with an atomic rename
    (swarmclient.runtime.training.shared_warm_start), so tests with the same profile and
    warm-up steps share one build instead of each paying for it; the first one still builds."""
    return tmp_path_factory.mktemp("warm-start-cache")


@pytest.fixture
def devnet_dir(tmp_path, warm_start_cache):
    """A fresh `swarm devnet --dir`, whose warm-start cache (`<dir>/cache`) is the session's."""
    root = tmp_path / "devnet"
    root.mkdir()
    (root / "cache").symlink_to(warm_start_cache, target_is_directory=True)
    return root
