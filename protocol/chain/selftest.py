"""`swarm chain selftest`: deploy everything and play the protocol end to end on one chain.

Register, stake, claim (alone and batched), challenge, a Verde game down to one op and one
element (protocol.chain.scalar_trace.SyntheticStep) settled by the on-chain one-step check, a
timeout resolution, slashing and a reward payout, printing gas per step. Accounts and peer keys are throwaway ones made here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import trio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account

from protocol.chain.backends import Chain
from protocol.chain.client import BatchRef, ChainClient
from protocol.chain.commit import Claim, binding_message
from protocol.chain.deployment import AI, Params, deploy
from protocol.chain.position import inner_boundaries
from protocol.chain.scalar_trace import SyntheticStep, install_op_step
from protocol.chain.worker import TxResult, TxWorker

# Short clocks and windows so timeouts are quick to reach with time travel.
SELFTEST_PARAMS = Params(min_stake=1_000 * AI, unbonding_delay=7200, challenge_window=3600,
                         reward_per_claim=10 * AI, max_batch=64, bond=500 * AI, clock=600, levels=3,
                         winner_bps=5_000, pool=100_000 * AI)


@dataclass(frozen=True)
class Step:
    label: str
    gas: int
    seconds: float
    note: str = ""


def peer_key_pair() -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.generate()
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_binding(key: Ed25519PrivateKey, chain_id: int, registry: str, account: str) -> bytes:
    return key.sign(binding_message(chain_id, registry, account))


async def register_and_stake(client: ChainClient, chain_id: int, amount: int,
                             log: Callable[[TxResult], None] = lambda result: None) -> bytes:
    key, public = peer_key_pair()
    signature = sign_binding(key, chain_id, client.registry.address, client.address)
    log(await client.registry.register(public, signature))
    log(await client.token.approve(client.registry.address, amount))
    log(await client.registry.stake(amount))
    return public


async def play(game_id: int, claimant: ChainClient, challenger: ChainClient, lying: SyntheticStep,
               honest: SyntheticStep, log: Callable[[TxResult], None]) -> str:
    """Play a one-step claim's game to the end with both sides following their own synthetic
    step (docs/verde.md): descend into the step's ops, bisect them, open the first op the two
    disagree on, pick its first differing element, and settle its instruction on-chain."""
    g = claimant.game
    picked = (0, 0)  # (op, element) the challenger disputes, once picked
    while True:
        view = await g.game(game_id)
        if view.status != "open":
            return view.status
        stage = (await trio.to_thread.run_sync(g.contract.functions.verde_state(game_id).call))[0]
        lo, hi = view.lo, view.hi
        if view.turn == "claimant":
            if view.level == 1:
                points = [lying.level2(p) for p in inner_boundaries(0, lying.length)]
                log(await g.descend(game_id, lying.length, points))
            elif view.level == 2 and hi - lo > 1:
                log(await g.reveal(game_id, [lying.level2(p) for p in inner_boundaries(lo, hi)]))
            elif view.level == 2:
                fn = g.contract.functions.open_op(game_id, *lying.open_op_args(lo))
                log(await claimant.worker.transact("Game.open_op", fn))
            else:
                # level 3 of an add is one instruction; the challenger settles it (anyone may)
                op, element = picked
                proof = honest.step_proof(op, element, record=lying.hashes[op])
                log(await challenger.game.prove_step(game_id, proof))
        elif stage == 1:
            op = lo
            element = next(e for e in range(honest.size) if honest.value(op, e) != lying.value(op, e))
            picked = (op, element)
            fn = challenger.game.contract.functions.pick(game_id, *lying.pick_args(op, element))
            log(await challenger.worker.transact("Game.pick", fn))
        else:
            event = challenger.game.contract.events.Revealed()
            logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
            revealed = [bytes(p) for p in logs[-1]["args"]["points"]]
            log(await challenger.game.choose(game_id, honest.disputed_part(lo, hi, revealed), revealed))


async def run_selftest(chain: Chain, *, params: Params = SELFTEST_PARAMS,
                       on_step: Callable[[Step], None] = lambda step: None) -> list[Step]:
    w3 = chain.w3
    steps: list[Step] = []

    def log(result: TxResult, note: str = "") -> None:
        step = Step(result.label, result.gas_used, result.seconds, note)
        steps.append(step)
        on_step(step)

    deployer_account, claimant_account, challenger_account = (Account.create() for _ in range(3))
    for account in (deployer_account, claimant_account, challenger_account):
        await trio.to_thread.run_sync(chain.fund, account.address, 10 * 10**18)

    async with trio.open_nursery() as nursery:
        deployer = TxWorker(w3, deployer_account)
        await nursery.start(deployer.serve)
        started = time.perf_counter()
        deployment = await deploy(w3, deployer, params)
        steps.append(Step("deploy (4 contracts, wiring, pool)", 0, time.perf_counter() - started))
        on_step(steps[-1])
        claimant = ChainClient(w3, deployment, claimant_account)
        challenger = ChainClient(w3, deployment, challenger_account)
        treasury = ChainClient(w3, deployment, deployer_account)
        for c in (claimant, challenger, treasury):
            await nursery.start(c.worker.serve)
        await treasury.token.transfer(claimant.address, 10_000 * AI)
        await treasury.token.transfer(challenger.address, 10_000 * AI)
        chain_id = await trio.to_thread.run_sync(lambda: w3.eth.chain_id)

        await register_and_stake(claimant, chain_id, 3 * params.min_stake, log)

        # A one-step claim of 12 ops; the claimant lies in element 2 of op 7's output.
        honest = SyntheticStep()
        lying = SyntheticStep(corrupt=(7, 2))
        claim = Claim(claimant.address, 1, b"\x11" * 32, b"\x22" * 32, lying.ckpt_before, lying.ckpt_after, 1)
        log(await claimant.ledger.post_claim(claim))
        batch = [Claim(claimant.address, r, bytes([r]) * 32, b"\x33" * 32, b"\x44" * 32, b"\x55" * 32, 4)
                 for r in range(2, 10)]
        log(await claimant.ledger.post_batch(1, batch), f"{len(batch)} claims")

        log(await challenger.token.approve(challenger.game.address, 2 * params.bond))
        await install_op_step(challenger)  # once per Game (pinned code; anyone may)
        opened = await challenger.game.open(claim)
        log(opened)
        game_id = opened.event("GameOpened")["game_id"]
        outcome = await play(game_id, claimant, challenger, lying, honest, log)
        steps.append(Step(f"game {game_id} outcome: {outcome}", 0, 0.0))
        on_step(steps[-1])

        # A second lie, challenged inside its batch; the claimant stays silent and times out.
        opened = await challenger.game.open(batch[3], BatchRef.of(1, batch, 3))
        log(opened, "batched claim, leaf 3")
        game_id = opened.event("GameOpened")["game_id"]
        await trio.to_thread.run_sync(chain.increase_time, params.clock + 1)
        log(await challenger.game.timeout(game_id))
        view = await challenger.game.game(game_id)
        steps.append(Step(f"game {game_id} outcome: {view.status} (timeout)", 0, 0.0))
        on_step(steps[-1])

        # An honest claim finalizes after its window and earns the reward.
        good = Claim(claimant.address, 10, b"\x66" * 32, b"\x77" * 32, b"\x88" * 32, b"\x99" * 32, 4)
        posted = await claimant.ledger.post_claim(good)
        log(posted)
        await trio.to_thread.run_sync(chain.increase_time, params.challenge_window + 1)
        log(await claimant.ledger.finalize(posted.event("ClaimPosted")["key"]))
        nursery.cancel_scope.cancel()
    return steps
