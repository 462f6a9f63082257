"""The chain client: one-line errors for setup mistakes, the per-account worker, events, the
embedded chain served over JSON-RPC, and the position maths mirror."""

from __future__ import annotations

import enum
import json

import pytest
import requests
import trio
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from protocol.chain import ChainClient, ChainReason, Deployment, check_deployment, load_deployment, open_chain
from protocol.chain.anvil import free_port
from protocol.chain.backends import Chain
from protocol.chain.events import watch_events
from protocol.chain.position import ARITY, boundary, inner_boundaries, parts, rounds_to_leaf
from protocol.chain.rpc_server import serve_embedded
from protocol.errors import ProtocolError

R = ChainReason


def _reason(fn, *args):
    with pytest.raises(ProtocolError) as caught:
        fn(*args)
    assert "\n" not in str(caught.value)
    return caught.value.reason


async def test_wrong_chain_and_missing_contract(env, tmp_path):
    data = env.deployment.to_json()
    data["chain_id"] += 1
    assert _reason(check_deployment, Deployment.from_json(data), env.w3) is R.WRONG_CHAIN
    data = env.deployment.to_json()
    data["contracts"]["Game"]["address"] = env.dave.address
    assert _reason(check_deployment, Deployment.from_json(data), env.w3) is R.NO_CONTRACT
    path = tmp_path / "deployment.json"
    env.deployment.save(path)
    assert load_deployment(path, env.w3).addresses == env.deployment.addresses


@pytest.mark.parametrize("content", ["not json", "[]", json.dumps({"format": "swarm-deployment/1"}),
                                     json.dumps({"format": "other/1"})])
def test_bad_deployment_file(tmp_path, content):
    path = tmp_path / "d.json"
    path.write_text(content)
    assert _reason(load_deployment, path) is R.BAD_DEPLOYMENT
    assert _reason(load_deployment, tmp_path / "missing.json") is R.BAD_DEPLOYMENT


def test_unreachable_rpc_and_unknown_backend():
    assert _reason(open_chain, "rpc", f"http://127.0.0.1:{free_port()}") is R.RPC_UNREACHABLE
    assert _reason(open_chain, "rpc", None) is R.BAD_ARGUMENT
    assert _reason(open_chain, "nope") is R.BAD_ARGUMENT


async def test_unfunded_account(env, nursery):
    poor = ChainClient(env.w3, env.deployment, Account.create(), retries=0)
    await nursery.start(poor.worker.serve)
    with pytest.raises(ProtocolError) as caught:
        await poor.token.approve(env.alice.address, 1)
    assert caught.value.reason is R.UNFUNDED and poor.address in str(caught.value)


async def test_worker_serialises_concurrent_transactions(env):
    bob = env.bob
    results = []

    async def approve(i: int) -> None:
        results.append(await bob.token.approve(env.carol.address, i + 1))

    async with trio.open_nursery() as nursery:
        for i in range(6):
            nursery.start_soon(approve, i)
    hashes = {r.tx_hash for r in results}
    assert len(hashes) == 6 and all(r.gas_used > 0 for r in results)
    nonces = sorted(env.w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(nonces[0], nonces[0] + 6))


async def test_event_subscription(env, nursery):
    send, receive = trio.open_memory_channel(32)
    head = env.w3.eth.block_number
    await nursery.start(lambda task_status: watch_events(
        env.w3, env.carol.decoder, list(env.deployment.addresses.values()), send,
        from_block=head + 1, poll_interval=0.05, task_status=task_status))
    await env.carol.token.approve(env.carol.registry.address, 5)
    await env.carol.registry.stake(5)
    names = []
    with trio.fail_after(10):
        while "Staked" not in names:
            event = await receive.receive()
            names.append(event.name)
    assert names[0] == "Approval" and "Transfer" in names and event.args["account"] == env.carol.address


async def test_embedded_chain_over_json_rpc(env, nursery):
    """Another process's view: web3 over HTTP to `swarm chain up`'s server, time travel included."""
    port = await nursery.start(lambda task_status: serve_embedded(env.w3, port=0, task_status=task_status))
    url = f"http://127.0.0.1:{port}"

    def connect() -> Chain:
        return open_chain("rpc", url)

    remote = await trio.to_thread.run_sync(connect)
    assert await trio.to_thread.run_sync(lambda: remote.chain_id) == env.w3.eth.chain_id
    await trio.to_thread.run_sync(check_deployment, env.deployment, remote.w3)
    client = ChainClient(remote.w3, env.deployment, Account.create(), retries=0)
    await trio.to_thread.run_sync(remote.fund, client.address, 10**18)
    await nursery.start(client.worker.serve)
    result = await client.token.approve(env.alice.address, 7)
    assert result.event("Approval")["owner"] == client.address
    with pytest.raises(ProtocolError) as caught:
        await client.registry.stake(1)
    assert caught.value.reason is R.REGISTRY_NOT_REGISTERED
    before = await trio.to_thread.run_sync(lambda: remote.w3.eth.get_block("latest")["timestamp"])
    after = await trio.to_thread.run_sync(remote.increase_time, 5000)
    assert after + 1 >= before + 5000  # the next block (where the next tx lands) is past it


@given(st.integers(0, 2**40), st.integers(1, 2**40))
def test_position_partition(lo, width):
    hi = lo + width
    bounds = [boundary(lo, hi, j) for j in range(parts(lo, hi) + 1)]
    assert bounds[0] == lo and bounds[-1] == hi
    assert all(a < b for a, b in zip(bounds, bounds[1:]))
    assert inner_boundaries(lo, hi) == bounds[1:-1]
    assert parts(lo, hi) == min(width, ARITY)


@given(st.integers(1, 2**48))
def test_rounds_to_leaf_is_logarithmic(length):
    rounds = rounds_to_leaf(length)
    assert ARITY ** max(rounds - 1, 0) < length * 2 and (length == 1) == (rounds == 0)


async def test_bad_call_arguments_are_a_typed_error(env):
    with pytest.raises(ProtocolError) as caught:
        await env.bob.token.approve("not an address", 1)
    assert caught.value.reason is R.BAD_ARGUMENT and "\n" not in str(caught.value)


class Fault(enum.Enum):
    LOST_SEND_RESPONSE = "the node took the transaction but the reply was lost"
    SEND_REFUSED = "the connection failed before the node saw the transaction"


@pytest.mark.parametrize("fault", list(Fault))
async def test_retry_after_a_lost_connection_never_runs_a_transaction_twice(env, nursery, fault):
    client = ChainClient(env.w3, env.deployment, env.accounts_of("bob"), retries=2)
    await nursery.start(client.worker.serve)
    real_send = env.w3.eth.send_raw_transaction
    calls = []

    def flaky_send(raw):
        calls.append(raw)
        if len(calls) == 1:
            if fault is Fault.LOST_SEND_RESPONSE:
                real_send(raw)
            raise requests.ConnectionError(fault.value)
        return real_send(raw)

    env.w3.eth.send_raw_transaction = flaky_send
    try:
        nonce = env.w3.eth.get_transaction_count(client.address)
        result = await client.token.transfer(env.carol.address, 1)
    finally:
        env.w3.eth.send_raw_transaction = real_send
    assert len(calls) == 2 and calls[0] == calls[1]  # re-sent byte for byte
    assert env.w3.eth.get_transaction_count(client.address) == nonce + 1  # ran exactly once
    assert result.event("Transfer")["value"] == 1


async def test_deployment_file_round_trip(env, tmp_path):
    path = tmp_path / "deployment.json"
    env.deployment.save(path, rpc_url="http://127.0.0.1:8545")
    loaded = load_deployment(path, env.w3)
    assert loaded.addresses == env.deployment.addresses and loaded.params == env.deployment.params
    assert loaded.bytecodes["Game"] == env.deployment.bytecodes["Game"] and loaded.bytecodes["Game"].startswith("0x")
    assert json.loads(path.read_text())["rpc"] == "http://127.0.0.1:8545"
