"""`swarm devnet --cheaters 1`: real peer processes train, post every round's claim on the
devnet's chain, re-execute each other's claims, and dispute the cheater's: its games resolve
against it on the chain (it is slashed), the honest claims finalize, and the report says so
(real processes, real libp2p on 127.0.0.1, the real contracts on py-evm).

Three peers, not four: two honest watchers and one cheater already prove detection (each
honest peer re-executes the cheater's claims), the dispute (a whole Verde game on the chain)
and slashing, and that an honest peer's claims are never slashed; a fourth peer only adds a
third watcher and its re-executions on CI's two cores. The `micro` profile: the subject is
claims and disputes, not learning (tests/sapo covers training). A 40 s challenge window (was
60 s): the run ends a window after its last claim, and watchers detect a micro claim's fault
in about 5 s even under load. The game clock stays 60 s: games end by proof (about 9 moves),
so the clock costs nothing unless a side times out, and an honest side must never run out."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PEERS, ROUNDS = 3, 2


@pytest.mark.slow
def test_devnet_cheater_is_challenged_and_slashed(tmp_path, devnet_dir):
    report = tmp_path / "r.json"
    cmd = [
        sys.executable, "-m", "swarmclient.cli.main", "--home", str(tmp_path / "home"), "devnet",
        "--peers", str(PEERS), "--cheaters", "1", "--rounds", str(ROUNDS), "--round-seconds", "3", "--headless",
        "--warm-steps", "5", "--profile", "micro", "--challenge-window", "40", "--game-clock", "60",
        "--dir", str(devnet_dir), "--report", str(report),
    ]
    done = subprocess.run(cmd, check=False, timeout=840, capture_output=True, text=True)
    assert report.exists(), done.stderr[-3000:]
    data = json.loads(report.read_text())
    chain = data["chain"]
    verdict = chain["verdict"]
    cheater = PEERS - 1
    assert verdict["cheaters"] == [cheater]
    assert verdict["all_cheaters_slashed"], (chain["games"], done.stderr[-3000:])
    assert verdict["honest_slashed"] == [] and verdict["games_open"] == 0
    # Every game was against the cheater, opened by an honest watcher, won by the challenger.
    assert chain["games"], done.stderr[-3000:]
    for game in chain["games"]:
        assert game["claimant"] == cheater and game["challenger"] != cheater
        assert game["status"] == "challenger_won" and game["winner"] == "challenger"
        assert game["moves"] >= 2  # level 1 was played (reveal, choose) before the clock ran out
        assert game["detection_s"] is not None and game["resolution_s"] is not None
    # Each cheating claim got exactly one game (a claim has at most one open game).
    assert sorted(g["claim_round"] for g in chain["games"]) == sorted({g["claim_round"] for g in chain["games"]})
    assert chain["claims"]["posted"] == PEERS * ROUNDS
    assert chain["claims"]["rejected"] == len(chain["games"])
    assert chain["claims"]["finalized"] == (PEERS - 1) * ROUNDS  # every honest claim, none of the cheater's
    for peer in chain["peers"]:
        claims = peer["claims"]
        if peer["cheater"]:
            assert claims["finalized"] == 0 and claims["slashed"] >= 1
            assert peer["verify"]["faults_injected"] == ROUNDS
        else:
            assert claims["finalized"] == ROUNDS and claims["slashed"] == 0
            assert peer["verify"]["agreed"] >= 1  # honest claims re-executed bit for bit
            assert peer["gas_per_claim"] and peer["gas_per_claim"] < 150_000  # post_claim + finalize
