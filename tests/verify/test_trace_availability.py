"""/swarm/trace/1 between real py-libp2p nodes: a claimant whose lie is inside an op's output
serves that output, the challenger fetches it, picks the element and the claimant is slashed
on the embedded chain; unknown roots are refused; a silent peer times out."""

from __future__ import annotations

import os
import sys
import time

import pytest
import torch
import trio

sys.path[:0] = [os.path.join(os.path.dirname(__file__), "..", d) for d in ("net", "verde")]

from kit import HPARAMS, StakedChain, staked_chain, tiny_batch, tiny_checkpoint  # noqa: E402
from netutil import star  # noqa: E402
from protocol.chain import ChainClient  # noqa: E402
from protocol.chain.commit import Claim  # noqa: E402
from protocol.chain.selftest import SELFTEST_PARAMS  # noqa: E402
from repops import merkle  # noqa: E402
from swarmclient.errors import SwarmError  # noqa: E402
from swarmclient.verify.trace_server import TraceFetcher, TraceServer, decode_tensor, encode_tensor  # noqa: E402
from verde import Challenger, Claimant, Fault, execute, lie, locate  # noqa: E402


@pytest.fixture(scope="module")
def honest():
    return execute(tiny_checkpoint(), tiny_batch(), HPARAMS, 1)


@pytest.fixture(scope="module")
def chain_world() -> StakedChain:
    return staked_chain()


def _op_index(execution, name):
    return next(i for i, op in enumerate(execution.steps[0].ops) if op.record.op == name)


def test_tensor_blob_round_trips_and_is_checked_against_its_root(honest):
    for op in honest.steps[0].ops[:40]:
        for root, tensor in zip(op.record.output_roots, op.outputs):
            got = decode_tensor(encode_tensor(tensor), root)
            assert got.dtype == tensor.dtype and torch.equal(got, tensor)
    tensor = honest.steps[0].ops[0].outputs[0]
    with pytest.raises(SwarmError) as info:
        decode_tensor(encode_tensor(tensor + 1), merkle.tensor_root(tensor))
    assert info.value.reason == "bad-trace"
    with pytest.raises(SwarmError) as info:
        decode_tensor(b"\x05\x00junk", merkle.tensor_root(tensor))
    assert info.value.reason == "bad-trace"


async def test_op_output_lie_is_fetched_picked_and_slashed(chain_world, honest, nursery):
    chain_world.chain.w3.provider.ethereum_tester.revert_to_snapshot(chain_world.snapshot)
    alice, bob = (ChainClient(chain_world.chain.w3, chain_world.deployment, chain_world.accounts[n], retries=0)
                  for n in ("alice", "bob"))
    for client in (alice, bob):
        await nursery.start(client.worker.serve)
    j = _op_index(honest, "linear")
    n = honest.steps[0].ops[j].outputs[0].numel()
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=n // 2)
    assert locate(honest, lying).provable
    digest = os.urandom(32)
    claim = Claim(alice.address, 1, digest, b"\x02" * 32, lying.ckpt_before, lying.ckpt_after, 1)
    before = await alice.registry.stake_of(alice.address)
    with trio.fail_after(120):
        async with star(2) as (claimant_node, challenger_node):
            server = TraceServer()
            claimant_node.provide("trace", server.provide)
            await alice.ledger.post_claim(claim)
            challenger = Challenger(bob, honest)
            fetcher = TraceFetcher(challenger_node.fetch, claimant_node.peer_id, digest, timeout=10)
            challenger.fetch_tensor = fetcher.lookup
            game_id = await challenger.open(claim)
            claimant = Claimant(alice, lying)
            claimant.watch(game_id, claim)
            server.open(digest, lying)  # the claimant's participant does this on GameOpened
            challenger_step = fetcher.driver(challenger)
            for _ in range(80):
                a = await claimant.step(game_id)
                b = await challenger_step(game_id)
                if a.done and b.done:
                    break
            else:
                raise AssertionError(f"game did not end: {a.notes[-3:]} {b.notes[-3:]}")
            server.close(digest)
    assert (a.outcome, b.outcome) == ("lost", "won")
    assert (b.op, b.slot, b.element) == (j, 0, n // 2)
    wrong_root = lying.steps[0].ops[j].record.output_roots[0]
    assert wrong_root in fetcher.cache and server.counters["served"] >= 1
    assert not fetcher.failures
    after = await alice.registry.stake_of(alice.address)
    assert after["staked"] == before["staked"] - SELFTEST_PARAMS.min_stake
    assert (await alice.ledger.record(claim.leaf())).status == "rejected"


async def test_unknown_root_busy_and_silent_peer(honest):
    digest = os.urandom(32)
    some_root = honest.steps[0].ops[3].record.output_roots[0]
    with trio.fail_after(60):
        async with star(2) as (claimant_node, challenger_node):
            server = TraceServer()
            claimant_node.provide("trace", server.provide)
            server.open(digest, honest)
            query = {"claim": digest.hex()}
            got = decode_tensor(await challenger_node.fetch(claimant_node.peer_id, "trace", some_root, query=query,
                                                            timeout=10), some_root)
            assert torch.equal(got, honest.steps[0].ops[3].outputs[0])
            # A root that is in no op record of the claim (e.g. a checkpoint entry's) is refused.
            for root in (os.urandom(32), honest.steps[0].entries[0][1]):
                with pytest.raises(SwarmError) as info:
                    await challenger_node.fetch(claimant_node.peer_id, "trace", root, query=query, timeout=10)
                assert info.value.reason == "rpc-not-found"
            with pytest.raises(SwarmError) as info:  # a claim with no game open
                await challenger_node.fetch(claimant_node.peer_id, "trace", some_root,
                                            query={"claim": os.urandom(32).hex()}, timeout=10)
            assert info.value.reason == "rpc-not-found"
            with pytest.raises(SwarmError) as info:
                await challenger_node.fetch(claimant_node.peer_id, "trace", some_root, query={}, timeout=10)
            assert info.value.reason == "rpc-bad-request"
            other = os.urandom(32)
            server.preparing(other)
            with pytest.raises(SwarmError) as info:
                await challenger_node.fetch(claimant_node.peer_id, "trace", some_root,
                                            query={"claim": other.hex()}, timeout=10)
            assert info.value.reason == "rpc-busy"
            server.close(digest)
            with pytest.raises(SwarmError) as info:  # dropped once the game resolved
                await challenger_node.fetch(claimant_node.peer_id, "trace", some_root, query=query, timeout=10)
            assert info.value.reason == "rpc-not-found"

            # A peer that accepts the stream and never answers: None within the timeout.
            async def never(key, query):
                await trio.sleep(3600)

            claimant_node.provide("trace", never)  # the same peer, now silent
            logged = []
            fetcher = TraceFetcher(challenger_node.fetch, claimant_node.peer_id, digest, timeout=1.0, log_fn=logged.append)
            started = time.monotonic()
            assert await fetcher.fetch(some_root) is None
            assert await fetcher.fetch(some_root) is None
            assert time.monotonic() - started < 5
            assert fetcher.failures == {"rpc-timeout": 2} and len(logged) == 1, (fetcher.failures, logged)
            assert fetcher.lookup(some_root) is None


def test_watchers_open_only_what_verde_can_prove(honest):
    from swarmclient.verify.verde_link import worth_opening

    def claim(**over):
        fields = dict(claimant="0x" + "11" * 20, round=1, claim_digest=b"\x01" * 32, trace_root=b"\x02" * 32,
                      ckpt_before=honest.ckpt_before, ckpt_after=honest.ckpt_after, steps=1)
        fields.update(over)
        return Claim(*fields.values())

    assert worth_opening(claim(), honest) == (False, "matches")
    # A wrong claimed checkpoint: the game locates it (an op's output, or the assembly).
    assert worth_opening(claim(ckpt_after=b"\x03" * 32), honest)[0]
    # Re-executed from another checkpoint or step count: nothing Verde can prove.
    assert not worth_opening(claim(ckpt_before=b"\x04" * 32, ckpt_after=b"\x03" * 32), honest)[0]
    assert not worth_opening(claim(steps=2, ckpt_after=b"\x03" * 32), honest)[0]
