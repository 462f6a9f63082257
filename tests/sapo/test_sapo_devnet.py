"""`swarm devnet` trains for real: the report shows each peer's reward per round and the
local/external sample counts of every update (real processes, real libp2p on 127.0.0.1).
The `micro` profile (the smallest model that still trains SAPO rounds with local and external
groups): what is tested is that the devnet's peers train and share rollouts, not the model's size."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from swarmclient.runtime.device import profile_config

PROFILE = "micro"


@pytest.mark.slow
def test_devnet_trains_and_reports_rewards_and_sample_counts(tmp_path, devnet_dir):
    report = tmp_path / "r.json"
    cmd = [
        sys.executable, "-m", "swarmclient.cli.main", "--home", str(tmp_path / "home"), "devnet",
        "--peers", "2", "--rounds", "2", "--round-seconds", "3", "--headless", "--warm-steps", "5", "--profile", PROFILE,
        "--no-chain",  # training and gossip are the subject; tests/devnet/test_devnet_chain.py covers claims
        "--dir", str(devnet_dir), "--report", str(report),
    ]
    cfg = profile_config(PROFILE)
    subprocess.run(cmd, check=False, timeout=540, capture_output=True)
    data = json.loads(report.read_text())
    assert len(data["peers"]) == 2
    for peer in data["peers"]:
        training = peer["training"]
        assert training is not None, peer.get("log_tail")
        assert [r for r, _ in training["reward_history"]] == [0, 1]
        assert all(0.0 <= w <= 1.0 for _, w in training["reward_history"])
        assert [u["round"] for u in training["updates"]] == [0, 1]
        for u in training["updates"]:
            assert u["local_samples"] + u["external_samples"] == (cfg.local_groups + cfg.external_groups) * cfg.group_size
        assert peer["batches"]["published_rounds"] == [0, 1]
    # Each peer trained on the other's rollouts at least once (round 1 at the latest).
    assert all(any(u["external_samples"] > 0 for u in p["training"]["updates"]) for p in data["peers"])
