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
