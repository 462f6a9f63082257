"""`swarm join` without a swarm: bad input is one clear line and exit code 2 (never a traceback
or a hang), device sizing follows the documented table, reachability is reported from
evidence, and `--stake` registers and stakes on a real (embedded, JSON-RPC served) chain."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest
import trio

from swarmclient import config as config_mod
from swarmclient import identity as identity_mod
from swarmclient.cli.main import main
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.runtime import reachability, staking
from swarmclient.runtime.device import DeviceInfo, PROCESS_BASELINE, choose_profile, profile_need

GIB = 1 << 30
A_PEER_ID = "12D3KooWMXsuX3Gi7YZBPs5zDmwpueFnJLKifEchFaEByAiqaXdb"


def join(home, *args, capsys):
    code = main(["--home", str(home), "join", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err + out.out
    return code, out.err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_malformed_bootstrap_is_refused_before_anything_is_created(tmp_path, capsys):
    code, err = join(tmp_path / "h", "--bootstrap", "/ip4/1.2.3/tcp/x", capsys=capsys)
    assert code == 2 and "bad-peer-addr" in err and "/p2p/<peer id>" in err
    assert not (tmp_path / "h").exists()
    code, err = join(tmp_path / "h", "--bootstrap", "/ip4/127.0.0.1/tcp/4001", capsys=capsys)
    assert code == 2 and "bad-peer-addr" in err  # no /p2p/<id>: nobody to authenticate


def test_bad_listen_address_is_refused(tmp_path, capsys):
    code, err = join(tmp_path / "h", "--listen", "not-a-multiaddr", capsys=capsys)
    assert code == 2 and "bad-multiaddr" in err


def test_unreachable_bootstrap_is_an_error_with_the_reason(tmp_path, capsys):
    addr = f"/ip4/127.0.0.1/tcp/{free_port()}/p2p/{A_PEER_ID}"
    code, err = join(tmp_path / "h", "--bootstrap", addr, "--listen", "/ip4/127.0.0.1/tcp/0", capsys=capsys)
    assert code == 2 and "bootstrap-unreachable" in err
    # The first run still created the identity and a config that names the bootstrap peer.
    home = Home(tmp_path / "h")
    assert identity_mod.exists(home)
    assert config_mod.load(home.config).network.bootstrap == [addr]


def test_no_bootstrap_at_all_says_how_to_give_one(tmp_path, capsys):
    code, err = join(tmp_path / "h", capsys=capsys)
    assert code == 2 and "no-bootstrap" in err and "--bootstrap" in err


def test_corrupt_config_is_named(tmp_path, capsys):
    home = Home(tmp_path / "h")
    identity_mod.save(identity_mod.Identity.generate(), home)
    home.config.write_text("swarm_id = [\n")
    code, err = join(home.root, "--bootstrap", f"/ip4/127.0.0.1/tcp/1/p2p/{A_PEER_ID}", capsys=capsys)
    assert code == 2 and "bad-config" in err and "config.toml" in err
    home.config.write_text('[network]\nlisten = "one"\n')
    code, err = join(home.root, "--bootstrap", f"/ip4/127.0.0.1/tcp/1/p2p/{A_PEER_ID}", capsys=capsys)
    assert code == 2 and "network.listen" in err


def test_stake_without_a_deployment_explains_what_to_pass(tmp_path, capsys):
    addr = f"/ip4/127.0.0.1/tcp/1/p2p/{A_PEER_ID}"
    code, err = join(tmp_path / "h", "--bootstrap", addr, "--stake", "1000", "--yes", capsys=capsys)
    assert code == 2 and "no-deployment" in err and "--deployment" in err


@pytest.mark.slow
def test_a_port_that_never_speaks_libp2p_ends_with_no_peers_not_a_hang(tmp_path):
    """TCP accepts (so the quick probe passes) but no libp2p handshake ever comes: the
    runtime gives up after --connect-timeout with one line."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    addr = f"/ip4/127.0.0.1/tcp/{listener.getsockname()[1]}/p2p/{A_PEER_ID}"
    try:
        result = subprocess.run(
            [sys.executable, "-m", "swarmclient.cli.main", "--home", str(tmp_path / "h"), "join", "--bootstrap", addr,
             "--listen", "/ip4/127.0.0.1/tcp/0", "--synthetic", "--connect-timeout", "3", "--rounds", "1"],
            capture_output=True, text=True, timeout=180,
        )
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
    assert result.returncode == 2, result.stderr
    assert "no-peers" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "h" / "control.sock").exists()


# -- sizing ------------------------------------------------------------------------------------


def machine(kind: str, ram_free: int, gpu_free: int | None = None) -> DeviceInfo:
    return DeviceInfo(kind, "test machine", 2 * ram_free, ram_free, gpu_free, gpu_free)


def test_profile_table():
    # A CPU never goes past tiny (RepOps on CPU is slow), however much memory it has.
    assert choose_profile(machine("cpu", 64 * GIB)).profile == "tiny"
    assert choose_profile(machine("cuda", 64 * GIB, 80 * GIB)).profile == "base"
    assert choose_profile(machine("mps", 64 * GIB)).profile == "base"
    # Just enough RAM for the smallest profile, at half the free memory.
    micro_ram, _ = profile_need("micro")
    tiny_ram, _ = profile_need("tiny")
    assert micro_ram < tiny_ram
    assert choose_profile(machine("cpu", 2 * micro_ram)).profile == "micro"
    # A GPU whose free memory is too small for base's update gets a smaller profile.
    _, base_step = profile_need("base")
    assert choose_profile(machine("cuda", 64 * GIB, base_step)).profile in ("micro", "tiny", "small")


def test_a_machine_too_small_is_refused_not_swapped():
    with pytest.raises(SwarmError) as exc:
        choose_profile(machine("cpu", PROCESS_BASELINE))
    assert exc.value.reason == "memory" and "swap" in exc.value.detail
    with pytest.raises(SwarmError) as exc:
        choose_profile(machine("cpu", 2 * profile_need("micro")[0]), requested="base")
    assert exc.value.reason == "memory" and "--profile" in exc.value.detail
    with pytest.raises(SwarmError):
        choose_profile(machine("cpu", 64 * GIB), fraction=1.5)


# -- reachability ------------------------------------------------------------------------------


def test_address_scopes():
    scope = reachability.address_scope
    assert scope("/ip4/127.0.0.1/tcp/4001") == "loopback"
    assert scope("/ip4/192.168.1.7/tcp/4001") == "private"
    assert scope("/ip4/100.64.3.2/tcp/4001") == "private"  # carrier-grade NAT
    assert scope("/ip4/8.8.8.8/tcp/4001/p2p/" + A_PEER_ID) == "public"
    assert scope("/ip4/0.0.0.0/tcp/4001") == "unspecified"
    assert scope("/ip6/::1/tcp/4001") == "loopback"
    assert scope("/dns4/swarm.example.org/tcp/4001") == "public"


def test_reachability_verdicts_come_from_evidence():
    watch = reachability.ReachabilityWatch()
    assert watch.report(["/ip4/127.0.0.1/tcp/1"]).verdict == "local-only"
    unknown = watch.report(["/ip4/192.168.1.7/tcp/1"])
    assert unknown.verdict == "unknown" and "NAT" in unknown.detail
    assert watch.report(["/ip4/8.8.8.8/tcp/1"]).verdict == "public-address"
    watch.inbound["p"] = reachability.InboundSeen("p", "203.0.113.9:5000", "public", 0.0)
    seen = watch.report(["/ip4/192.168.1.7/tcp/1"])
    assert seen.verdict == "reachable" and seen.inbound_from == "public"
    assert "AutoNAT" in seen.as_json()["nat_traversal"]


# -- staking -----------------------------------------------------------------------------------


@pytest.mark.slow  # deploys the contracts (compiles them when the cache is cold: minutes under load)
async def test_stake_registers_the_peer_key_and_stakes_on_a_served_chain(tmp_path):
    from protocol.chain import ChainClient, TxWorker, deploy, open_chain
    from protocol.chain.rpc_server import serve_embedded

    home = Home(tmp_path / "h")
    me = identity_mod.Identity.generate()
    identity_mod.save(me, home)
    poor = identity_mod.Identity.generate()
    chain = open_chain("embedded")
    await trio.to_thread.run_sync(chain.fund, me.account.address, 10 * 10**18)
    async with trio.open_nursery() as nursery:
        worker = TxWorker(chain.w3, me.account)  # the deployer is the treasury: it holds the AI
        await nursery.start(worker.serve)
        deployment = await deploy(chain.w3, worker)
        nursery.cancel_scope.cancel()
    async with trio.open_nursery() as nursery:
        port = await nursery.start(lambda task_status: serve_embedded(chain.w3, port=0, task_status=task_status))
        path = home.root / "chain" / "deployment.json"
        deployment.save(path, rpc_url=f"http://127.0.0.1:{port}")
        target = staking.chain_target(home, config_mod.Config(), None, None)
        assert target.deployment == path and target.rpc.endswith(str(port))

        client = await staking.open_client(target, me)
        await nursery.start(client.worker.serve)
        plan = await staking.plan_stake(client, target.rpc, 1500)
        assert not plan.registered and plan.staked == 0 and plan.to_add == 1500 * staking.AI
        assert plan.problems() == []
        done = await staking.execute_stake(client, me, plan)
        assert done["staked_ai"] == 1500 and set(done["transactions"]) == {"register", "approve", "stake"}
        again = await staking.plan_stake(client, target.rpc, 1500)
        assert again.registered and again.to_add == 0

        # An account with no gas and no tokens, and a stake under the minimum: all named.
        broke = ChainClient(client.w3, client.deployment, poor.account)
        low = await staking.plan_stake(broke, target.rpc, 1)
        problems = " | ".join(low.problems())
        assert "minimum stake" in problems and "no ETH" in problems and "AI more are needed" in problems
        with pytest.raises(SwarmError) as exc:
            await staking.execute_stake(broke, poor, low)
        assert exc.value.reason == "cannot-stake"
        nursery.cancel_scope.cancel()


def test_staking_asks_for_confirmation_and_never_assumes_it(monkeypatch):
    from swarmclient.cli import join_cmd

    plan = staking.StakePlan("0xabc", 1, "http://x", 1000 * staking.AI, 1000 * staking.AI, 1, 0, False, 0)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    with pytest.raises(SwarmError) as exc:
        join_cmd.confirm(plan)
    assert exc.value.reason == "confirm" and "--yes" in exc.value.detail


def test_devnet_entry_reads_the_devnet_peers_addresses(tmp_path, capsys):
    from swarmclient.cli.join_cmd import devnet_entry
    from swarmclient.devnet import layout

    specs = layout.prepare(tmp_path / "dn", 3, None)
    addrs, swarm_id = devnet_entry(tmp_path / "dn")
    assert addrs == [specs[0].multiaddr, specs[1].multiaddr] and swarm_id == layout.DEVNET_SWARM_ID
    code, err = join(tmp_path / "h", "--devnet", str(tmp_path / "nothing-here"), capsys=capsys)
    assert code == 2 and "no-devnet" in err


def test_progress_lines_print_brackets_literally(capsys):
    """Peer data and error texts reach the progress display: '[/x]' must print as is, not be
    taken for rich markup (which raises on a closing tag that was never opened)."""
    from swarmclient.cli.join_cmd import Progress

    Progress(as_json=False).emit("warning", "round 3: missing ['a'] [/bold] [red]")
    out = capsys.readouterr().out
    assert "missing ['a'] [/bold] [red]" in out
    Progress(as_json=True).emit("round", "r", round=3)
    assert '"event": "round"' in capsys.readouterr().out
