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


@pytest.mark.slow
async def test_chain_up_is_shared_by_another_process(tmp_path):
    """`swarm chain up` (embedded) in its own process; this process deploys nothing and
    transacts against it through the deployment file alone; SIGTERM stops it cleanly."""
    import os
    import signal
    import subprocess
    import sys

    import trio
    from eth_account import Account

    from protocol.chain import ChainClient, load_deployment, open_chain
    from protocol.chain.deployment import deployment_rpc_url

    home = tmp_path / "home"
    env = {**os.environ, "SWARM_HOME": str(home)}
    path = home / "chain" / "deployment.json"
    async with trio.open_nursery() as nursery:
        proc = await nursery.start(lambda task_status: trio.run_process(
            [sys.executable, "-m", "swarmclient.cli.main", "chain", "up", "--port", "0"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, task_status=task_status))
        with trio.fail_after(60):
            while not (path.exists() and deployment_rpc_url(path)):
                await trio.sleep(0.2)
        remote = await trio.to_thread.run_sync(open_chain, "rpc", deployment_rpc_url(path))
        deployment = await trio.to_thread.run_sync(load_deployment, path, remote.w3)
        client = ChainClient(remote.w3, deployment, Account.create())
        await trio.to_thread.run_sync(remote.fund, client.address, 10**18)
        await nursery.start(client.worker.serve)
        result = await client.token.approve(deployment.addresses["Game"], 1)
        assert result.event("Approval")["value"] == 1
        proc.send_signal(signal.SIGTERM)
        with trio.fail_after(20):
            await proc.wait()
        assert proc.returncode == 0
        nursery.cancel_scope.cancel()


@pytest.mark.slow
def test_cli_unfunded_deploy_is_one_line(tmp_path, capsys, monkeypatch):
    """`swarm chain deploy` from an account without ETH: one line, exit 2 (no traceback)."""
    import threading

    import trio

    from protocol.chain import open_chain
    from protocol.chain.rpc_server import serve_embedded

    monkeypatch.setenv("SWARM_HOME", str(tmp_path / "home"))
    chain = open_chain("embedded")
    ready, port = threading.Event(), []

    async def serve() -> None:
        async with trio.open_nursery() as nursery:
            port.append(await nursery.start(lambda task_status: serve_embedded(chain.w3, port=0, task_status=task_status)))
            ready.set()
            while not stop.is_set():
                await trio.sleep(0.05)
            nursery.cancel_scope.cancel()

    stop = threading.Event()
    server = threading.Thread(target=trio.run, args=(serve,), daemon=True)  # the node, as another process would run it
    server.start()
    try:
        assert ready.wait(30)
        rc = main(["chain", "deploy", "--rpc", f"http://127.0.0.1:{port[0]}"])
    finally:
        stop.set()
        server.join(10)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("swarm: unfunded-account") and "\n" not in err
