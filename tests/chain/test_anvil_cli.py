"""`swarm chain selftest` on anvil (a real node from npm) and the CLI's one-line errors."""

from __future__ import annotations

import json

import pytest

from protocol.chain.anvil import find_anvil, free_port, install_anvil
from protocol.errors import ProtocolError
from swarmclient.cli.main import main


@pytest.mark.slow
@pytest.mark.anvil
def test_selftest_on_anvil(capsys):
    if find_anvil() is None:
        try:
            install_anvil()  # scripts/install-anvil.sh: npm install @foundry-rs/anvil into .cache/anvil
        except ProtocolError as exc:
            pytest.fail(f"anvil is needed for this test and npm could not install it: {exc}")
    rc = main(["chain", "selftest", "--chain", "anvil", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert rc == 0 and report["ok"], report
    labels = [row["step"] for row in report["steps"]]
    for needed in ("Registry.register", "Registry.stake", "ClaimLedger.post_claim", "ClaimLedger.post_batch",
                   "Game.open", "Game.reveal", "Game.choose", "Game.descend", "Game.prove_step", "Game.timeout",
                   "ClaimLedger.finalize"):
        assert needed in labels
    gas = {row["step"]: row["gas"] for row in report["steps"]}
    assert gas["ClaimLedger.post_claim"] <= 60_000


def test_cli_unreachable_rpc_is_one_line(tmp_path, capsys):
    deployment = tmp_path / "d.json"
    deployment.write_text("{}")
    assert main(["chain", "status", "--deployment", str(deployment), "--rpc", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("swarm: bad-deployment") and "\n" not in err
    rc = main(["chain", "selftest", "--chain", "rpc", "--rpc", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("swarm: rpc-unreachable") and "\n" not in err
