"""Game on the embedded chain: whole games both ways, clocks, post-resolution guards, every
revert path of the bisection and of the one-step check."""

from __future__ import annotations

import struct

import pytest
from chainkit import reverts

from protocol.chain import BatchRef, ChainReason
from protocol.chain.artifacts import load_artifacts
from protocol.chain.commit import (
    EMPTY_OPENING, OPCODES, SRC_ACC, SRC_IMMEDIATE, SRC_TENSOR, SRC_TMP, Claim, Float32Tensor, Instruction,
    state_hash,
)
from protocol.chain.position import boundary, inner_boundaries, parts
from protocol.chain.scalar_trace import ScalarTrace, apply, dot_product_trace
from protocol.chain.selftest import play

R = ChainReason


async def _setup(env):
    return env.alice, env.bob  # staked claimant and approved challenger at the snapshot


async def _open(env, trace: ScalarTrace, round_=1):
    alice, bob = env.alice, env.bob
    claim = Claim(alice.address, round_, b"\x01" * 32, b"\x02" * 32, trace.state(0),
                  trace.state(len(trace.instructions)), trace.steps)
    await alice.ledger.post_claim(claim)
    opened = await bob.game.open(claim)
    return claim, opened.event("GameOpened")["game_id"], opened


async def test_lying_claimant_is_slashed(env):
    alice, bob = await _setup(env)
    supply = await alice.token.total_supply()
    bob_before = await bob.token.balance_of(bob.address)
    lying, honest = dot_product_trace(corrupt_at=11), dot_product_trace()
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
    honest, lying = dot_product_trace(), dot_product_trace(corrupt_at=5)
    bob_before = await bob.token.balance_of(bob.address)
    claim, game_id, _ = await _open(env, honest)
    window_end = (await alice.ledger.record(claim.leaf())).window_end
    env.increase_time(100)
    # roles swapped: the claimant's trace is honest, the challenger disputes with a wrong one
    assert await play(game_id, alice, bob, honest, lying, lambda r: None) == "claimant_won"
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
    trace = dot_product_trace(corrupt_at=3)
    _, game_id, _ = await _open(env, trace)
    async with reverts(R.GAME_CLOCK_RUNNING):
        await bob.game.timeout(game_id)
    env.increase_time(100)
    await alice.game.reveal(game_id, trace.points(1, 0, 0, trace.steps))
    clocks = await alice.game.clocks(game_id)
    assert env.params.clock - 110 < clocks["claimant_left"] <= env.params.clock - 100
    assert clocks["challenger_left"] == env.params.clock and clocks["turn"] == "challenger"
    env.increase_time(env.params.clock + 1)
    async with reverts(R.GAME_CLOCK_EXPIRED):
        await bob.game.choose(game_id, 0, trace.points(1, 0, 0, trace.steps))
    resolved = (await alice.game.timeout(game_id)).event("GameResolved")
    assert resolved["winner"] == alice.address and resolved["by_timeout"]
    # every action on a resolved game fails, nothing pays twice
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.timeout(game_id)
    async with reverts(R.GAME_NOT_OPEN):
        await bob.game.choose(game_id, 0, trace.points(1, 0, 0, trace.steps))
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.reveal(game_id, trace.points(1, 0, 0, trace.steps))
    async with reverts(R.GAME_NOT_OPEN):
        await alice.game.prove_step(game_id, trace.step_proof(0))


async def test_claimant_timeout_slashes_and_frees_nothing_else(env):
    alice, bob = await _setup(env)
    trace = dot_product_trace(corrupt_at=3)
    claim, game_id, _ = await _open(env, trace)
    env.increase_time(env.params.clock + 1)
    async with reverts(R.GAME_CLOCK_EXPIRED):
        await alice.game.reveal(game_id, trace.points(1, 0, 0, trace.steps))
    resolved = (await bob.game.timeout(game_id)).event("GameResolved")
    assert resolved["winner"] == bob.address and resolved["status"] == 3
    assert (await alice.ledger.record(claim.leaf())).status == "rejected"
    async with reverts(R.LEDGER_CLAIM_CLOSED):
        await bob.game.open(claim)


async def test_bisection_reverts(env):
    alice, bob = await _setup(env)
    trace = dot_product_trace(corrupt_at=3)
    claim, game_id, _ = await _open(env, trace)
    pts = trace.points(1, 0, 0, trace.steps)
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
        await bob.game.prove_step(game_id, trace.step_proof(0))
    await alice.game.reveal(game_id, pts)
    async with reverts(R.GAME_NOT_YOUR_TURN):
        await alice.game.reveal(game_id, pts)
    async with reverts(R.GAME_POINTS_MISMATCH):
        await bob.game.choose(game_id, 0, pts[::-1])
    async with reverts(R.GAME_BAD_PART):
        await bob.game.choose(game_id, parts(0, trace.steps), pts)
    await bob.game.choose(game_id, 0, pts)  # now [0, 1] at level 1
    async with reverts(R.GAME_RANGE_IS_ONE_STEP):
        await alice.game.reveal(game_id, [])
    async with reverts(R.GAME_BAD_LENGTH):
        await alice.game.descend(game_id, 0, [])
    async with reverts(R.GAME_WRONG_POINT_COUNT):
        await alice.game.descend(game_id, 1, [b"\1" * 32])
    for _ in range(2):
        await alice.game.descend(game_id, 1, [])
    async with reverts(R.GAME_AT_LAST_LEVEL):
        await alice.game.descend(game_id, 1, [])
    async with reverts(R.GAME_OWN_CLAIM):
        await alice.game.open(claim)
    async with reverts(R.GAME_NOT_OPEN):
        await bob.game.timeout(999)


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
    ({"levels_": 0}, R.GAME_BAD_LEVELS), ({"winner_bps_": 10_001}, R.GAME_BAD_SHARE), ({"clock_": 0}, R.GAME_ZERO_CLOCK),
])
async def test_game_constructor_reverts(env, kwargs, reason):
    art = load_artifacts()["Game"]
    a = env.deployment.addresses
    args = {"token_": a["Token"], "registry_": a["Registry"], "ledger_": a["ClaimLedger"], "bond_": 1,
            "stake_at_risk_": 1, "clock_": 10, "levels_": 3, "winner_bps_": 5000, **kwargs}
    ctor = env.w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(**args)
    async with reverts(reason):
        await env.alice.worker.transact("deploy", ctor)


# --- the one-step check ---------------------------------------------------------------------

X = Float32Tensor(tuple(struct.unpack("<I", struct.pack("<f", v))[0] for v in (1.5, -2.25, 3.0, 0.1)) + (0,) * 300, (304,))


async def _one_step_game(env, ins: Instruction, acc: int, tmp: int, after: bytes):
    """A game over a one-instruction program, descended straight to the one-step check."""
    alice, bob = env.alice, env.bob
    from protocol.chain.commit import tree_root
    root = tree_root([ins.leaf(0)])
    before = state_hash(root, 0, acc, tmp)
    claim = Claim(alice.address, 1, b"\1" * 32, b"\2" * 32, before, after, 1)
    await alice.ledger.post_claim(claim)
    game_id = (await bob.game.open(claim)).event("GameOpened")["game_id"]
    for _ in range(2):
        await alice.game.descend(game_id, 1, [])
    return game_id, root


def _proof(root, ins, acc, tmp, a=EMPTY_OPENING, b=EMPTY_OPENING):
    return (root, 0, acc, tmp, ins.as_tuple(), [], a, b)


@pytest.mark.parametrize("op, honest", [(op, True) for op in sorted(OPCODES)]
                         + [("div", False)])
async def test_one_step_recomputes_each_opcode(env, op, honest):
    alice, bob = await _setup(env)
    acc = struct.unpack("<I", struct.pack("<f", 2.0))[0]
    ins = Instruction(OPCODES[op], 1, SRC_ACC, SRC_TENSOR, root_b=X.root(), index_b=1)
    from protocol.chain.commit import tree_root
    root = tree_root([ins.leaf(0)])
    b = X.bits[1] if op not in ("sqrt", "neg", "abs") else 0
    result = apply(OPCODES[op], acc, b) if op in ("add", "sub", "mul", "div", "sqrt") else None
    if result is None:
        from protocol.chain.scalar_trace import _min_max
        result = {"min": lambda: _min_max(False, acc, b), "max": lambda: _min_max(True, acc, b),
                  "neg": lambda: acc ^ 0x80000000, "abs": lambda: acc & 0x7FFFFFFF}[op]()
    after = state_hash(root, 1, acc, result if honest else result ^ 1)
    game_id, root = await _one_step_game(env, ins, acc, 0, after)
    opening = X.opening(1) if op not in ("sqrt", "neg", "abs") else EMPTY_OPENING
    proven = await bob.game.prove_step(game_id, _proof(root, ins, acc, 0, EMPTY_OPENING, opening))
    assert proven.gas_used < 400_000
    assert proven.event("GameResolved")["winner"] == (alice.address if honest else bob.address)


@pytest.mark.parametrize("ins, opening, tamper, reason", [
    (Instruction(0, 0, SRC_ACC, SRC_TMP), None, "pre", R.GAME_PRE_STATE_MISMATCH),
    (Instruction(0, 0, SRC_ACC, SRC_TMP), None, "instruction", R.GAME_BAD_INSTRUCTION_PROOF),
    (Instruction(9, 0, SRC_ACC, SRC_TMP), None, None, R.GAME_BAD_OPCODE),
    (Instruction(0, 2, SRC_ACC, SRC_TMP), None, None, R.GAME_BAD_DESTINATION),
    (Instruction(0, 0, 4, SRC_TMP), None, None, R.GAME_BAD_SOURCE),
    (Instruction(0, 0, SRC_ACC, SRC_IMMEDIATE, index_b=2**32), None, None, R.GAME_BAD_IMMEDIATE),
    (Instruction(0, 0, SRC_ACC, SRC_TENSOR, root_b=X.root(), index_b=1), "bad-proof", None, R.GAME_BAD_OPERAND_PROOF),
    (Instruction(0, 0, SRC_ACC, SRC_TENSOR, root_b=X.root(), index_b=1), "int-dtype", None, R.GAME_BAD_OPERAND_PROOF),
    (Instruction(0, 0, SRC_ACC, SRC_TENSOR, root_b=X.root(), index_b=300), "short-chunk", None, R.GAME_BAD_OPERAND_PROOF),
])
async def test_one_step_reverts(env, ins, opening, tamper, reason):
    await _setup(env)
    game_id, root = await _one_step_game(env, ins, 0, 0, b"\x0f" * 32)
    b = EMPTY_OPENING
    if opening == "bad-proof":
        header, chunk, siblings = X.opening(1)
        b = (header, chunk[:-4] + b"\0\0\0\1", siblings)
    elif opening == "int-dtype":
        header, chunk, siblings = X.opening(1)
        b = (b"\x02" + header[1:], chunk, siblings)
    elif opening == "short-chunk":
        header, chunk, siblings = X.opening(300)
        b = (header, chunk[:8], siblings)
    proof = list(_proof(root, ins, 0, 0, EMPTY_OPENING, b))
    if tamper == "pre":
        proof[2] = 5
    elif tamper == "instruction":
        proof[4] = Instruction(1, 0, SRC_ACC, SRC_TMP).as_tuple()
    async with reverts(reason):
        await env.bob.game.prove_step(game_id, tuple(proof))


def test_reference_trace_is_bit_exact():
    trace = dot_product_trace()
    total = 0.0
    import numpy as np
    xs = [np.uint32(b).view(np.float32) for b in trace.tensors[trace.instructions[0].root_a].bits]
    ws = [np.uint32(b).view(np.float32) for b in trace.tensors[trace.instructions[0].root_b].bits]
    acc = np.float32(0)
    for x, w in zip(xs, ws):
        acc = np.float32(acc + np.float32(x * w))
    total = int(np.array([acc]).view(np.uint32)[0])
    assert trace.states[-1][0] == total
    assert SRC_TMP == 1
