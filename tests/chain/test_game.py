"""Game on the embedded chain: whole Verde games both ways over a synthetic step (levels:
steps, ops, one element's program), clocks, post-resolution guards, and every revert path of
the bisection, of open_op / pick and of the one-step check."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest
from chainkit import reverts

from protocol.chain import BatchRef, ChainReason
from protocol.chain.artifacts import load_artifacts
from protocol.chain.commit import Claim, trace_record_hash
from protocol.chain.position import boundary, inner_boundaries, parts
from protocol.chain.scalar_trace import SyntheticStep, install_op_step
from protocol.chain.reasons import member_name
from protocol.chain.selftest import play
from protocol.errors import ProtocolError

R = ChainReason


@asynccontextmanager
async def reverts_with(message: str):
    """Like chainkit.reverts, by message: every Game reason is typed in protocol/chain/reasons.py."""
    with pytest.raises(ProtocolError) as caught:
        yield
    expected = ChainReason[member_name(message)]
    assert caught.value.reason is expected and message in str(caught.value), caught.value


async def _setup(env):
    await install_op_step(env.bob)
    return env.alice, env.bob  # staked claimant and approved challenger at the snapshot


async def _open(env, step: SyntheticStep, round_=1):
    alice, bob = env.alice, env.bob
    claim = Claim(alice.address, round_, b"\x01" * 32, b"\x02" * 32, step.ckpt_before, step.ckpt_after, 1)
    await alice.ledger.post_claim(claim)
    opened = await bob.game.open(claim)
    return claim, opened.event("GameOpened")["game_id"], opened


async def _to_op(env, game_id, step: SyntheticStep, op: int):
    """Descend and bisect level 2 down to the transition op -> op + 1 (claimant to move)."""
    alice, bob = env.alice, env.bob
    await alice.game.descend(game_id, step.length, [step.level2(p) for p in inner_boundaries(0, step.length)])
    lo, hi = 0, step.length
    while True:
        points = [step.level2(p) for p in inner_boundaries(lo, hi)]
        part = next(j for j in range(parts(lo, hi)) if boundary(lo, hi, j) <= op < boundary(lo, hi, j + 1))
        await bob.game.choose(game_id, part, points)
        lo, hi = boundary(lo, hi, part), boundary(lo, hi, part + 1)
        if hi - lo == 1:
            return
        await alice.game.reveal(game_id, [step.level2(p) for p in inner_boundaries(lo, hi)])


def _fns(client):
    return client.game.contract.functions


async def _open_op(env, game_id, step, op):
    return await env.alice.worker.transact("Game.open_op", _fns(env.alice).open_op(game_id, *step.open_op_args(op)))


async def _pick(env, game_id, step, op, element, **override):
    args = dict(zip(("record", "heads", "slot", "element", "attrs", "claimed"), step.pick_args(op, element)))
    args.update(override)
    return await env.bob.worker.transact("Game.pick", _fns(env.bob).pick(game_id, *args.values()))


async def test_lying_claimant_is_slashed(env):
    alice, bob = await _setup(env)
    supply = await alice.token.total_supply()
    bob_before = await bob.token.balance_of(bob.address)
    lying, honest = SyntheticStep(corrupt=(5, 1)), SyntheticStep()
    claim, game_id, opened = await _open(env, lying)
    gas = [opened.gas_used]
    assert await play(game_id, alice, bob, lying, honest, lambda r: gas.append(r.gas_used)) == "challenger_won"
    p = env.params
    stake = await alice.registry.stake_of(alice.address)
    assert stake["staked"] == 2 * p.min_stake and stake["locked"] == 0
    reward = p.min_stake * p.winner_bps // 10_000
    assert await bob.token.balance_of(bob.address) == bob_before + reward
    assert await alice.token.total_supply() == supply - (p.min_stake - reward)
    assert (await alice.ledger.record(claim.leaf())).status == "rejected"
    assert sum(gas) < 3_000_000


async def test_lying_challenger_loses_bond_and_claim_survives(env):
    alice, bob = await _setup(env)
    honest = SyntheticStep()
    bob_before = await bob.token.balance_of(bob.address)
    claim, game_id, _ = await _open(env, honest)
    window_end = (await alice.ledger.record(claim.leaf())).window_end
    env.increase_time(100)
    # the challenger disputes op 4's element 0, which the claimant computed right
    await _to_op(env, game_id, honest, 4)
    await _open_op(env, game_id, honest, 4)
    await _pick(env, game_id, honest, 4, 0)
    proven = await alice.game.prove_step(game_id, honest.step_proof(4, 0))
    assert proven.event("GameResolved")["winner"] == alice.address
    p = env.params
    assert await bob.token.balance_of(bob.address) == bob_before - p.bond
    stake = await alice.registry.stake_of(alice.address)
    assert stake["locked"] == 0 and stake["staked"] == 3 * p.min_stake
    record = await alice.ledger.record(claim.leaf())
    assert record.status == "posted" and record.open_games == 0 and record.window_end > window_end + 100


async def test_position_maths_on_a_long_level(env):
    """A 1000-step level: every Chosen range matches the Python mirror of position.vy."""
    alice, bob = await _setup(env)
    claim = Claim(alice.address, 1, b"\x01" * 32, b"\x02" * 32, b"\x0a" * 32, b"\x0b" * 32, 1000)
    await alice.ledger.post_claim(claim)
    game_id = (await bob.game.open(claim)).event("GameOpened")["game_id"]
    lo, hi, rounds = 0, 1000, 0
    while hi - lo > 1:
        points = [bytes([7]) * 31 + bytes([j]) for j in range(1, parts(lo, hi))]
        await alice.game.reveal(game_id, points)
        part = rounds % parts(lo, hi)
        chosen = (await bob.game.choose(game_id, part, points)).event("Chosen")
        lo, hi = boundary(lo, hi, part), boundary(lo, hi, part + 1)
        assert (chosen["lo"], chosen["hi"]) == (lo, hi)
        rounds += 1
    assert rounds <= 4 and len(inner_boundaries(0, 1000)) == 7


async def test_clocks_and_timeouts(env):
    alice, bob = await _setup(env)
    step = SyntheticStep()
    _, game_id, _ = await _open(env, step)
    async with reverts(R.GAME_CLOCK_RUNNING):
        await bob.game.timeout(game_id)
    env.increase_time(100)
    points = [step.level2(p) for p in inner_boundaries(0, step.length)]
    await alice.game.descend(game_id, step.length, points)
    clocks = await alice.game.clocks(game_id)
    assert env.params.clock - 110 < clocks["claimant_left"] <= env.params.clock - 100
    assert clocks["challenger_left"] == env.params.clock and clocks["turn"] == "challenger"
    env.increase_time(env.params.clock + 1)
    async with reverts(R.GAME_CLOCK_EXPIRED):
        await bob.game.choose(game_id, 0, points)
    resolved = (await alice.game.timeout(game_id)).event("GameResolved")
    assert resolved["winner"] == alice.address and resolved["by_timeout"]
    # every action on a resolved game fails, nothing pays twice
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.timeout(game_id)
    async with reverts(R.GAME_NOT_OPEN):
        await bob.game.choose(game_id, 0, points)
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.reveal(game_id, points)
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.prove_step(game_id, step.step_proof(0, 0))


async def test_claimant_timeout_slashes_and_frees_nothing_else(env):
    alice, bob = await _setup(env)
    step = SyntheticStep(corrupt=(0, 0))
    claim, game_id, _ = await _open(env, step)
    env.increase_time(env.params.clock + 1)
    async with reverts(R.GAME_CLOCK_EXPIRED):
        await alice.game.descend(game_id, 1, [])
    resolved = (await bob.game.timeout(game_id)).event("GameResolved")
    assert resolved["winner"] == bob.address and resolved["status"] == 3
    assert (await alice.ledger.record(claim.leaf())).status == "rejected"
    async with reverts(R.LEDGER_CLAIM_CLOSED):
        await bob.game.open(claim)


async def test_bisection_reverts(env):
    alice, bob = await _setup(env)
    claim = Claim(alice.address, 1, b"\x01" * 32, b"\x02" * 32, b"\x0a" * 32, b"\x0b" * 32, 16)
    await alice.ledger.post_claim(claim)
    game_id = (await bob.game.open(claim)).event("GameOpened")["game_id"]
    pts = [bytes([j]) * 32 for j in range(1, 8)]
    async with reverts(R.GAME_NOT_CLAIMANT):
        await bob.game.reveal(game_id, pts)
    async with reverts(R.GAME_NOT_CHALLENGER):
        await alice.game.choose(game_id, 0, pts)
    async with reverts(R.GAME_NOT_YOUR_TURN):
        await bob.game.choose(game_id, 0, pts)
    async with reverts(R.GAME_WRONG_POINT_COUNT):
        await alice.game.reveal(game_id, pts[:-1])
    async with reverts(R.GAME_RANGE_NOT_ONE_STEP):
        await alice.game.descend(game_id, 2, [])
    async with reverts(R.GAME_NOT_AT_ONE_STEP):
        await bob.game.prove_step(game_id, SyntheticStep().step_proof(0, 0))
    await alice.game.reveal(game_id, pts)
    async with reverts(R.GAME_NOT_YOUR_TURN):
        await alice.game.reveal(game_id, pts)
    async with reverts_with("Game: not picking"):
        await bob.worker.transact("pick", _fns(bob).pick(game_id, *SyntheticStep().pick_args(0, 0)))
    async with reverts(R.GAME_POINTS_MISMATCH):
        await bob.game.choose(game_id, 0, pts[::-1])
    async with reverts(R.GAME_BAD_PART):
        await bob.game.choose(game_id, 8, pts)
    await bob.game.choose(game_id, 0, pts)  # [0, 2]
    await alice.game.reveal(game_id, [pts[0]])
    await bob.game.choose(game_id, 0, [pts[0]])  # [0, 1] at level 1
    async with reverts(R.GAME_RANGE_IS_ONE_STEP):
        await alice.game.reveal(game_id, [])
    async with reverts(R.GAME_BAD_LENGTH):
        await alice.game.descend(game_id, 0, [])
    async with reverts(R.GAME_WRONG_POINT_COUNT):
        await alice.game.descend(game_id, 1, [b"\1" * 32])
    await alice.game.descend(game_id, 1, [])  # level 2 of length 1: the assembly transition
    async with reverts(R.GAME_AT_LAST_LEVEL):
        await alice.game.descend(game_id, 1, [])
    async with reverts_with("Game: not an op transition"):
        await alice.worker.transact("open_op", _fns(alice).open_op(game_id, *SyntheticStep().open_op_args(0)))
    async with reverts(R.GAME_OWN_CLAIM):
        await alice.game.open(claim)
    async with reverts(R.GAME_NOT_OPEN):
        await bob.game.timeout(999)


async def test_open_op_and_pick_reverts(env):
    alice, bob = await _setup(env)
    step = SyntheticStep(corrupt=(3, 2))
    _, game_id, _ = await _open(env, step)
    await _to_op(env, game_id, step, 3)
    record, base, acc, path = step.open_op_args(3)
    fns = _fns(alice)
    async with reverts(R.GAME_NOT_CLAIMANT):
        await bob.worker.transact("open_op", _fns(bob).open_op(game_id, record, base, acc, path))
    async with reverts(R.GAME_PRE_STATE_MISMATCH):
        await alice.worker.transact("open_op", fns.open_op(game_id, record, base, b"\1" * 32, path))
    async with reverts_with("Game: wrong op index"):
        await alice.worker.transact("open_op", fns.open_op(game_id, step.record_tuple(4), base, acc, path))
    async with reverts_with("Game: bad op proof"):
        await alice.worker.transact("open_op", fns.open_op(game_id, record, base, acc, path[:-1]))
    async with reverts_with("Game: op does not match"):
        other = (3, b"add", record[2][::-1], record[3], record[4])
        await alice.worker.transact("open_op", fns.open_op(game_id, other, base, acc, path))
    async with reverts(R.GAME_NOT_YOUR_TURN):
        await _pick(env, game_id, step, 3, 2)
    await _open_op(env, game_id, step, 3)
    async with reverts_with("Game: not bisecting"):
        await bob.game.choose(game_id, 0, [])
    async with reverts(R.GAME_NOT_CHALLENGER):
        await alice.worker.transact("pick", _fns(alice).pick(game_id, *step.pick_args(3, 2)))
    async with reverts_with("Game: op does not match"):
        await _pick(env, game_id, step, 3, 2, record=step.record_tuple(4))
    heads = step.pick_args(3, 2)[1]
    async with reverts_with("Game: bad head"):
        await _pick(env, game_id, step, 3, 2, heads=heads[:-1])
    async with reverts_with("Game: bad head"):
        await _pick(env, game_id, step, 3, 2, heads=[heads[1], heads[0], heads[2]])
    async with reverts(R.GAME_BAD_PART):
        await _pick(env, game_id, step, 3, 2, slot=1)
    header, chunk, siblings = step.pick_args(3, 1)[5]
    async with reverts(R.GAME_BAD_OPERAND_PROOF):
        await _pick(env, game_id, step, 3, 2, claimed=(header, chunk[:-4] + b"\0\0\0\1", siblings))
    picked = await _pick(env, game_id, step, 3, 2)
    view = await bob.game.game(game_id)
    start, final = step.level3(3, 2)
    assert (view.level, view.lo, view.hi, view.h_lo, view.h_hi) == (3, 0, 1, start, final)
    proof = list(step.step_proof(3, 2))
    async with reverts(R.GAME_PRE_STATE_MISMATCH):
        await bob.game.prove_step(game_id, tuple(proof[:4] + [[1, 0, 0, 0]] + proof[5:]))
    async with reverts(R.GAME_PRE_STATE_MISMATCH):  # the agreed state is at pc 0
        await bob.game.prove_step(game_id, tuple(proof[:3] + [1] + proof[4:]))
    x_header, x_chunk, x_siblings = proof[5][0]
    async with reverts(R.GAME_BAD_OPERAND_PROOF):
        await bob.game.prove_step(game_id, tuple(proof[:5] + [[(x_header, x_chunk[::-1], x_siblings), proof[5][1]]]))
    proven = await bob.game.prove_step(game_id, tuple(proof))
    assert proven.event("GameResolved")["winner"] == bob.address
    assert picked.gas_used < 200_000 and proven.gas_used < 300_000


async def test_unknown_op_kind_resolves_for_the_claimant(env):
    """An op the contract has no program for ends the game for the claimant (docs/verde.md)."""
    alice, bob = await _setup(env)
    step = SyntheticStep()
    index, name, ins, outs, digest = step.records[2]
    step.records[2] = (index, "layer_norm", ins, outs, digest)
    step.hashes[2] = trace_record_hash(index, "layer_norm", ins, outs, digest)
    _, game_id, _ = await _open(env, step)
    await _to_op(env, game_id, step, 2)
    resolved = (await _open_op(env, game_id, step, 2)).event("GameResolved")
    assert resolved["winner"] == alice.address and not resolved["by_timeout"]


async def test_malformed_op_resolves_for_the_challenger(env):
    """An add whose input shapes do not broadcast to its output: the claimant cannot defend it."""
    alice, bob = await _setup(env)
    step = SyntheticStep(size=4)
    from protocol.chain.commit import Float32Tensor
    wide = Float32Tensor((0,) * 3, (3,))
    step.tensors[wide.root()] = wide
    index, name, ins, outs, digest = step.records[1]
    step.records[1] = (index, name, [ins[0], wide.root()], outs, digest)
    step.hashes[1] = trace_record_hash(index, name, [ins[0], wide.root()], outs, digest)
    _, game_id, _ = await _open(env, step)
    await _to_op(env, game_id, step, 1)
    await _open_op(env, game_id, step, 1)
    resolved = (await _pick(env, game_id, step, 1, 0)).event("GameResolved")
    assert resolved["winner"] == bob.address


async def test_stepper_is_pinned_and_installed_once(env):
    alice, bob = await _setup(env)
    async with reverts_with("Game: stepper set"):
        await alice.worker.transact("set_stepper", _fns(alice).set_stepper(*[env.deployment.addresses["Token"]] * 2))
    fresh = await _fresh_game(env)
    async with reverts_with("Game: bad stepper"):
        await alice.worker.transact("set_stepper", fresh.functions.set_stepper(*[env.deployment.addresses["Token"]] * 2))


async def _fresh_game(env):
    art = load_artifacts()["Game"]
    a = env.deployment.addresses
    ctor = env.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(
        a["Token"], a["Registry"], a["ClaimLedger"], 1, 1, 10, 3, 5000)
    result = await env.alice.worker.transact("deploy", ctor)
    return env.w3.eth.contract(address=result.contract_address, abi=art.abi)


async def test_second_game_needs_unlocked_stake_and_bond(env):
    _, bob = await _setup(env)
    alice, dave = env.carol, env.dave  # a claimant staking exactly one game's worth; a third party
    await alice.token.approve(alice.registry.address, env.params.min_stake)
    await alice.registry.stake(env.params.min_stake)
    claims = [Claim(alice.address, r, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, 4) for r in (1, 2)]
    await alice.ledger.post_batch(1, claims)
    async with reverts(R.TOKEN_INSUFFICIENT_ALLOWANCE):
        await dave.game.open(claims[1], BatchRef.of(1, claims, 1))
    await bob.game.open(claims[0], BatchRef.of(1, claims, 0))
    async with reverts(R.REGISTRY_STAKE_TOO_LOW):
        await bob.game.open(claims[1], BatchRef.of(1, claims, 1))
    async with reverts(R.REGISTRY_STAKE_LOCKED):
        await alice.registry.request_unstake(env.params.min_stake)
        env.increase_time(env.params.unbonding_delay)
        await alice.registry.withdraw()


async def test_unbonding_stake_stays_slashable(env):
    """A claimant who starts unbonding right after claiming is still slashed from the unbonding tokens."""
    alice, bob = await _setup(env)
    p = env.params
    claim = Claim(alice.address, 1, b"\x01" * 32, b"\x02" * 32, b"\x03" * 32, b"\x04" * 32, 4)
    await alice.ledger.post_claim(claim)
    await alice.registry.request_unstake(3 * p.min_stake)
    assert not await alice.registry.can_claim(alice.address)
    game_id = (await bob.game.open(claim)).event("GameOpened")["game_id"]
    env.increase_time(p.clock + 1)
    await bob.game.timeout(game_id)
    stake = await alice.registry.stake_of(alice.address)
    assert (stake["staked"], stake["unbonding"], stake["locked"]) == (0, 2 * p.min_stake, 0)


@pytest.mark.parametrize("kwargs, reason", [
    ({"levels_": 0}, R.GAME_BAD_LEVELS), ({"levels_": 2}, R.GAME_BAD_LEVELS), ({"winner_bps_": 10_001}, R.GAME_BAD_SHARE), ({"clock_": 0}, R.GAME_ZERO_CLOCK),
])
async def test_game_constructor_reverts(env, kwargs, reason):
    art = load_artifacts()["Game"]
    a = env.deployment.addresses
    args = {"token_": a["Token"], "registry_": a["Registry"], "ledger_": a["ClaimLedger"], "bond_": 1,
            "stake_at_risk_": 1, "clock_": 10, "levels_": 3, "winner_bps_": 5000, **kwargs}
    ctor = env.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(**args)
    async with reverts(reason):
        await env.alice.worker.transact("deploy", ctor)
