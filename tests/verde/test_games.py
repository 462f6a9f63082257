"""Whole Verde games on the embedded chain over a real RepOps training step: the honest side
wins and the liar is slashed (or loses its bond), for cheats injected at different places."""

from __future__ import annotations

import pytest

from protocol.chain.commit import Claim
from verde import Challenger, Claimant, Fault, GameRecord, check_claim, lie, locate


def _claim(client, execution, round_=1) -> Claim:
    return Claim(client.address, round_, b"\x01" * 32, b"\x02" * 32, execution.ckpt_before, execution.ckpt_after,
                 len(execution.steps))


async def _open_game(env, claimant_exec, challenger_exec, *, fetch=None):
    """Alice claims `claimant_exec`; Bob re-executes `challenger_exec` and opens a game on
    it (fetching disputed tensors from `fetch`, by default the claimant's); Alice's
    Claimant watches it. Returns (claim, claimant, challenger, game_id)."""
    claim = _claim(env.alice, claimant_exec)
    await env.alice.ledger.post_claim(claim)
    challenger = Challenger(env.bob, challenger_exec, fetch_tensor=fetch or claimant_exec.tensor)
    game_id = await challenger.open(claim)
    claimant = Claimant(env.alice, claimant_exec)
    claimant.watch(game_id, claim)
    return claim, claimant, challenger, game_id


async def _play(env, claimant_exec, challenger_exec, *, fetch=None, max_rounds=60):
    claim, claimant, challenger, game_id = await _open_game(env, claimant_exec, challenger_exec, fetch=fetch)
    for _ in range(max_rounds):
        a = await claimant.step(game_id)
        b = await challenger.step(game_id)
        if a.done and b.done:
            return claim, a, b
        # a silent side: let its clock run out so the other can call timeout
        view = await env.alice.game.game(game_id)
        if view.status == "open" and any("waiting" in n for n in a.notes[-1:]):
            env.increase_time(env.params.clock + 1)
    raise AssertionError("game did not end")


def _op_index(execution, name):
    return next(i for i, op in enumerate(execution.steps[0].ops) if op.record.op == name)


@pytest.mark.parametrize("kind", ["add", "linear", pytest.param("embedding", marks=pytest.mark.slow),
                                  pytest.param("masked_fill", marks=pytest.mark.slow),
                                  pytest.param("gather", marks=pytest.mark.slow)])
async def test_corrupt_element_claimant_is_slashed(env, honest, kind):
    j = _op_index(honest, kind)
    n = honest.steps[0].ops[j].outputs[0].numel()
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=n // 2)
    d = locate(honest, lying)
    assert (d.op, d.slot, d.element, d.provable) == (j, 0, n // 2, True)
    before = await env.alice.registry.stake_of(env.alice.address)
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome) == ("lost", "won")
    assert (b.op, b.slot, b.element) == (j, 0, n // 2)
    after = await env.alice.registry.stake_of(env.alice.address)
    assert after["staked"] == before["staked"] - env.params.min_stake
    assert (await env.alice.ledger.record(claim.leaf())).status == "rejected"
    assert a.gas + b.gas < 3_000_000, (a.gas, b.gas)


@pytest.mark.slow
async def test_adamw_moment_corrupted(env, honest):
    j = _op_index(honest, "adamw")
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, slot=2, element=0)
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome, b.slot) == ("lost", "won", 2)


@pytest.mark.slow
async def test_wrong_op_claimant_is_slashed(env, honest):
    j = _op_index(honest, "matmul")
    lying = lie(honest, Fault.WRONG_OP, op=j)
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome, b.op, b.element) == ("lost", "won", j, 0)


async def test_wrong_checkpoint_after_is_disproved_by_assembly(env, honest):
    lying = lie(honest, Fault.WRONG_CKPT_AFTER)
    assert not check_claim(_claim(env.alice, lying), honest).matches
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome) == ("lost", "won")
    assert any("assembly" in n for n in a.notes)
    logs = env.bob.game.contract.events.Assembled().get_logs(from_block=0)
    assert logs and logs[-1]["args"]["expected"] == honest.ckpt_after


@pytest.mark.slow
async def test_griefing_challenger_cannot_win_at_the_assembly(env, honest):
    """A challenger who disputes an honest claim's checkpoint after (agreeing with every op)
    is answered by the claimant's assembly proof."""
    griefer = lie(honest, Fault.WRONG_CKPT_AFTER)
    claim, a, b = await _play(env, honest, griefer)
    assert (a.outcome, b.outcome) == ("won", "lost")
    assert a.notes == [] and b.op is None


@pytest.mark.slow
async def test_lying_reveal_loses_by_the_clock(env, honest):
    lying = lie(honest, Fault.LYING_REVEAL, position=18)
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome) == ("lost", "won")
    assert any("cannot open op 17" in n for n in a.notes)


async def test_cheating_challenger_loses_its_bond(env, honest):
    j = _op_index(honest, "relu")
    lying_challenger = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=3)
    bob_before = await env.bob.token.balance_of(env.bob.address)
    claim, a, b = await _play(env, honest, lying_challenger, fetch=honest.tensor)
    assert (a.outcome, b.outcome) == ("won", "lost")
    assert await env.bob.token.balance_of(env.bob.address) == bob_before - env.params.bond
    record = await env.alice.ledger.record(claim.leaf())
    assert record.status == "posted" and record.open_games == 0


async def test_both_players_transacting_at_once_lose_no_transaction(env, chain_session, nursery):
    """Regression: two players as services send from their own worker threads at the same
    time (both may prove the last step). py-evm is not thread-safe: unserialised, one of two
    concurrent transactions was dropped (its worker waited the whole receipt timeout, the
    serve-and-resume test's 60 s hang) or a block went missing mid-mine (BlockNotFound)."""
    import trio

    from protocol.chain import ChainClient

    w3 = chain_session.chain.w3
    players = []
    for name in ("alice", "bob"):
        client = ChainClient(w3, chain_session.deployment, chain_session.accounts[name], retries=0, receipt_timeout=5)
        await nursery.start(client.worker.serve)
        players.append(client)
    alice, bob = players
    before = [await c.token.balance_of(c.address) for c in players]
    first_block = await trio.to_thread.run_sync(lambda: w3.eth.block_number)
    rounds = 10

    async def pay(payer, payee):
        for _ in range(rounds):
            await payer.token.transfer(payee.address, 1)
            await payer.token.balance_of(payee.address)  # a read in a thread, racing the other's send

    with trio.fail_after(60):
        async with trio.open_nursery() as both:
            both.start_soon(pay, alice, bob)
            both.start_soon(pay, bob, alice)
    assert [await c.token.balance_of(c.address) for c in players] == before
    assert (alice.worker.sent, bob.worker.sent) == (rounds, rounds)
    assert await trio.to_thread.run_sync(lambda: w3.eth.block_number) == first_block + 2 * rounds


@pytest.mark.slow
async def test_players_serve_and_resume_after_a_restart(env, honest, nursery):
    """Both players run as trio services; the challenger 'restarts' mid-game from its
    persisted record (JSON) and still wins."""
    import json

    import trio

    j = _op_index(honest, "mul")
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=1)
    claim, claimant, challenger, game_id = await _open_game(env, lying, honest)
    nursery.start_soon(claimant.serve, game_id)
    for _ in range(3):
        await challenger.step(game_id)
        await trio.sleep(0.3)
    saved = json.dumps(challenger.records[game_id].to_dict())
    restarted = Challenger(env.bob, honest, fetch_tensor=lying.tensor)
    restarted.resume(GameRecord.from_dict(json.loads(saved)))
    with trio.fail_after(60):
        record = await restarted.serve(game_id, poll=0.05)
    assert record.outcome == "won" and record.op == j and record.element == 1


@pytest.mark.slow
async def test_two_step_claim_bisects_level_one(env):
    """A claim of two steps (two PPO epochs) whose second step lies: level 1 picks step 1."""
    from kit import HPARAMS, tiny_batch, tiny_checkpoint

    from verde import execute

    honest2 = execute(tiny_checkpoint(), tiny_batch(), HPARAMS, 2)
    j = next(i for i, op in enumerate(honest2.steps[1].ops) if op.record.op == "linear")
    lying = lie(honest2, Fault.CORRUPT_ELEMENT, step=1, op=j, element=2)
    assert lying.ckpt_after == honest2.ckpt_after  # only the trace lies: level 2 still finds it
    claim, a, b = await _play(env, lying, honest2)
    assert (a.outcome, b.outcome, b.step, b.op, b.element) == ("lost", "won", 1, j, 2)


@pytest.mark.slow
async def test_claimant_recovers_its_place_from_the_chain(env, honest):
    """A claimant whose persisted record lags (no step, op, slot or element) finds its place
    from the game's events after a restart, and its game is found by `games_against`."""
    import json

    j = _op_index(honest, "linear")
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=0)
    # Bob disputes a right claim.
    claim, honest_claimant, griefer, game_id = await _open_game(env, honest, lying)
    assert await honest_claimant.games_against(claim) == [game_id]
    for _ in range(40):
        a = await honest_claimant.step(game_id)
        if a.phase.value == "element":
            break
        await griefer.step(game_id)
    stale = {**a.to_dict(), "step": None, "op": None, "slot": None, "element": None, "opened": None}
    restarted = Claimant(env.alice, honest)
    restarted.resume(GameRecord.from_dict(json.loads(json.dumps(stale))))
    for _ in range(40):
        a = await restarted.step(game_id)
        b = await griefer.step(game_id)
        if a.done and b.done:
            break
    assert (a.outcome, b.outcome, a.op, a.element) == ("won", "lost", j, 0)


@pytest.mark.parametrize("kind, slot", [("linear.backward", 1), pytest.param("matmul.backward", 0, marks=pytest.mark.slow),
                                        pytest.param("matmul.backward", 1, marks=pytest.mark.slow)])
async def test_corrupt_backward_matmul_is_slashed(env, honest, kind, slot):
    j = _op_index(honest, kind)
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, slot=slot, element=5)
    claim, a, b = await _play(env, lying, honest)
    assert (a.outcome, b.outcome, b.op, b.slot, b.element) == ("lost", "won", j, slot, 5)


@pytest.mark.slow
async def test_output_without_a_program_resolves_for_the_claimant(env, honest):
    """linear.backward's bias gradient (a tree sum) has no program: the challenger's library
    refuses to pick it, and a pick sent anyway ends the game for the claimant."""
    from verde import VerdeError
    from verde.execution import element_opening, head

    j = next(i for i, op in enumerate(honest.steps[0].ops) if op.record.op == "linear.backward" and len(op.outputs) == 3)
    griefer_exec = lie(honest, Fault.CORRUPT_ELEMENT, op=j, slot=2, element=0)
    claim, claimant, griefer, game_id = await _open_game(env, honest, griefer_exec)
    with pytest.raises(VerdeError) as caught:
        for _ in range(40):
            await claimant.step(game_id)
            await griefer.step(game_id)
    assert caught.value.reason == "unprovable_dispute"
    op = honest.steps[0].ops[j]
    r = op.record
    record = (r.index, r.op.encode(), list(r.input_roots), list(r.output_roots), r.attrs_digest)
    heads = [head(t) for t in (*op.inputs, *op.outputs)]
    pick = env.bob.game.contract.functions.pick(game_id, record, heads, 2, 0, [0] * 6, element_opening(op.outputs[2], 0))
    resolved = (await env.bob.worker.transact("Game.pick", pick)).event("GameResolved")
    assert resolved["winner"] == env.alice.address and not resolved["by_timeout"]


async def test_a_move_racing_the_other_sides_resolution_is_not_an_error(env, honest):
    """Regression: anyone may send prove_step or timeout, so a player's move can land after
    the other side resolved the game (a full run failed with 'Game: not open' raised out of
    Challenger.serve). The move is dropped with a note; the next step reads the result."""
    j = _op_index(honest, "add")
    lying = lie(honest, Fault.CORRUPT_ELEMENT, op=j, element=0)
    claim, a, b = await _play(env, lying, honest)
    assert b.outcome == "won"
    challenger = Challenger(env.bob, honest, fetch_tensor=lying.tensor)
    challenger.resume(b)
    late = challenger._game.functions.timeout(b.game_id)  # the same race as a late prove_step
    await challenger._send(b, "timeout", late)
    assert b.notes[-1] == "timeout: the game was resolved first"
    assert (await challenger.step(b.game_id)).outcome == "won"
