"""ClaimLedger on the embedded chain: single and batched claims, windows, rewards, reverts."""

from __future__ import annotations

from chainkit import claim_for, reverts

from protocol.chain import BatchRef, ChainReason
from protocol.chain.commit import Claim

R = ChainReason


async def _staked(env):
    return env.alice  # registered and staked at the session snapshot


async def test_claim_gas_under_60k_and_event(env):
    alice = await _staked(env)
    claim = claim_for(alice)
    result = await alice.ledger.post_claim(claim)
    assert result.gas_used <= 60_000, result.gas_used
    event = result.event("ClaimPosted")
    assert event["key"] == claim.leaf() and event["claimant"] == alice.address
    assert event["trace_root"] == claim.trace_root and event["steps"] == claim.steps
    record = await alice.ledger.record(claim.leaf())
    assert (record.status, record.count, record.claimant) == ("posted", 1, alice.address)
    assert record.window_end == env.now() + env.params.challenge_window


async def test_finalize_pays_reward_once(env):
    alice = await _staked(env)
    claim = claim_for(alice)
    await alice.ledger.post_claim(claim)
    async with reverts(R.LEDGER_WINDOW_OPEN):
        await alice.ledger.finalize(claim.leaf())
    env.increase_time(env.params.challenge_window)
    before = await alice.token.balance_of(alice.address)
    result = await env.bob.ledger.finalize(claim.leaf())  # anyone may finalize; the claimant is paid
    assert result.event("ClaimFinalized")["reward"] == env.params.reward_per_claim
    assert await alice.token.balance_of(alice.address) == before + env.params.reward_per_claim
    assert (await alice.ledger.record(claim.leaf())).status == "final"
    async with reverts(R.LEDGER_CLAIM_CLOSED):
        await alice.ledger.finalize(claim.leaf())


async def test_batch_one_per_epoch_and_reward_per_claim(env):
    alice = await _staked(env)
    claims = [claim_for(alice, r) for r in range(1, 6)]
    result = await alice.ledger.post_batch(7, claims)
    key = alice.ledger.batch_key(alice.address, 7, claims)
    assert result.event("BatchPosted")["key"] == key
    async with reverts(R.LEDGER_EPOCH_ALREADY_POSTED):
        await alice.ledger.post_batch(7, claims[:2])
    env.increase_time(env.params.challenge_window)
    result = await alice.ledger.finalize(key)
    assert result.event("ClaimFinalized")["reward"] == 5 * env.params.reward_per_claim


async def test_post_reverts(env):
    alice, bob, carol = env.alice, env.bob, env.carol
    async with reverts(R.LEDGER_NOT_STAKED):
        await carol.ledger.post_claim(claim_for(carol))
    async with reverts(R.LEDGER_NOT_STAKED):
        await carol.ledger.post_batch(1, [claim_for(carol)])
    async with reverts(R.LEDGER_NOT_CLAIMANT):
        await alice.ledger.post_claim(claim_for(bob))
    async with reverts(R.LEDGER_ZERO_STEPS):
        await alice.ledger.post_claim(claim_for(alice, steps=0))
    await alice.ledger.post_claim(claim_for(alice))
    async with reverts(R.LEDGER_ALREADY_POSTED):
        await alice.ledger.post_claim(claim_for(alice))
    f = alice.ledger.contract.functions
    async with reverts(R.LEDGER_ZERO_ROOT):
        await alice.worker.transact("post_batch", f.post_batch(1, b"\0" * 32, 1))
    async with reverts(R.LEDGER_BAD_COUNT):
        await alice.worker.transact("post_batch", f.post_batch(1, b"\1" * 32, 0))
    async with reverts(R.LEDGER_BAD_COUNT):
        await alice.worker.transact("post_batch", f.post_batch(1, b"\1" * 32, env.params.max_batch + 1))
    async with reverts(R.LEDGER_UNKNOWN_CLAIM):
        await alice.ledger.finalize(b"\x09" * 32)
    async with reverts(R.LEDGER_ZERO_AMOUNT):
        await alice.ledger.fund(0)


async def test_only_game_challenges_and_settles(env):
    alice = await _staked(env)
    claim = claim_for(alice)
    f = alice.ledger.contract.functions
    async with reverts(R.LEDGER_NOT_THE_GAME):
        await alice.worker.transact("challenge", f.challenge(claim.as_tuple(), BatchRef.single().as_tuple()))
    async with reverts(R.LEDGER_NOT_THE_GAME):
        await alice.worker.transact("settle", f.settle(claim.leaf(), claim.leaf(), True, 0))


async def test_challenge_window_and_batch_proofs(env):
    alice, bob = await _staked(env), env.bob
    claims = [claim_for(alice, r) for r in range(1, 4)]
    await alice.ledger.post_batch(1, claims)
    good = BatchRef.of(1, claims, 1)
    async with reverts(R.LEDGER_BAD_BATCH_PROOF):
        await bob.game.open(claims[0], good)
    async with reverts(R.LEDGER_INDEX_OUT_OF_BATCH):
        await bob.game.open(claims[1], BatchRef(1, good.root, good.count, 7, good.proof))
    async with reverts(R.TREE_INDEX_BEYOND_PROOF_DEPTH):
        await bob.game.open(claims[1], BatchRef(1, good.root, 5, 4, good.proof))
    async with reverts(R.LEDGER_UNKNOWN_CLAIM):
        await bob.game.open(claim_for(alice, 9))
    opened = await bob.game.open(claims[1], good)
    assert opened.event("ClaimChallenged")["open_games"] == 1
    async with reverts(R.LEDGER_CLAIM_IN_GAME):
        await bob.game.open(claims[1], good)
    env.increase_time(env.params.challenge_window)
    async with reverts(R.LEDGER_CLAIM_IN_GAME):
        await alice.ledger.finalize(alice.ledger.batch_key(alice.address, 1, claims))
    async with reverts(R.LEDGER_WINDOW_OVER):
        await bob.game.open(claims[2], BatchRef.of(1, claims, 2))


def test_claim_leaf_commits_to_every_field():
    base = Claim("0x" + "11" * 20, 1, b"\1" * 32, b"\2" * 32, b"\3" * 32, b"\4" * 32, 5)
    variants = [
        Claim("0x" + "12" * 20, *base.as_tuple()[1:]),
        Claim(base.claimant, 2, *base.as_tuple()[2:]),
        Claim(*base.as_tuple()[:2], b"\x09" * 32, *base.as_tuple()[3:]),
        Claim(*base.as_tuple()[:6], 6),
    ]
    assert len({v.leaf() for v in variants} | {base.leaf()}) == len(variants) + 1
