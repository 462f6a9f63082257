"""Tiny real training steps for the Verde tests (importable as `kit`: pytest puts this folder on sys.path)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import trio
from eth_account import Account

from protocol.chain import ChainClient, TxWorker, deploy, open_chain
from protocol.chain.deployment import AI
from protocol.chain.selftest import SELFTEST_PARAMS, peer_key_pair, sign_binding

from repops.model import Policy, PolicyConfig
from repops.step import Batch, StepConfig, make_optimizer, state_tensors
from verde import ensure_stepper

TINY = PolicyConfig(context=8, d_model=8, n_layer=1, n_head=2, d_mlp=16)
HPARAMS = StepConfig(model=TINY, lr=1e-2, weight_decay=0.01)


def tiny_checkpoint(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = Policy(TINY, seed=seed) if "seed" in Policy.__init__.__code__.co_varnames else Policy(TINY)
    return {k: v.clone() for k, v in state_tensors(model, make_optimizer(model, HPARAMS)).items()}


def tiny_batch(rows: int = 2, t: int = 6, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, TINY.vocab_size, (rows, t), generator=g)
    targets = torch.randint(1, TINY.vocab_size, (rows, t), generator=g)
    mask = torch.ones(rows, t, dtype=torch.float32)
    mask[:, :2] = 0
    weights = torch.tensor([1.0, -0.5][:rows] + [1.0] * max(0, rows - 2), dtype=torch.float32)
    return Batch(tokens, targets, mask, weights)


@dataclass
class StakedChain:
    """An embedded chain with the contracts and Verde's steppers deployed, alice registered and
    staked (a claimant), bob with bonds approved (a challenger), and a snapshot to roll back to."""

    chain: object
    deployment: object
    accounts: dict
    snapshot: int


def staked_chain() -> StakedChain:
    chain = open_chain("embedded")
    accounts = {name: Account.create() for name in ("treasury", "alice", "bob")}
    for account in accounts.values():
        chain.fund(account.address, 100 * 10**18)

    async def setup():
        async with trio.open_nursery() as nursery:
            worker = TxWorker(chain.w3, accounts["treasury"])
            await nursery.start(worker.serve)
            deployment = await deploy(chain.w3, worker, SELFTEST_PARAMS)
            clients = {n: ChainClient(chain.w3, deployment, accounts[n]) for n in ("treasury", "alice", "bob")}
            for c in clients.values():
                await nursery.start(c.worker.serve)
            for n in ("alice", "bob"):
                await clients["treasury"].token.transfer(clients[n].address, 20_000 * AI)
            alice, bob = clients["alice"], clients["bob"]
            key, public = peer_key_pair()
            await alice.registry.register(public, sign_binding(key, chain.w3.eth.chain_id, alice.registry.address,
                                                               alice.address))
            await alice.token.approve(alice.registry.address, 3 * SELFTEST_PARAMS.min_stake)
            await alice.registry.stake(3 * SELFTEST_PARAMS.min_stake)
            await bob.token.approve(bob.game.address, 10 * SELFTEST_PARAMS.bond)
            await ensure_stepper(bob)
            nursery.cancel_scope.cancel()
        return deployment

    deployment = trio.run(setup)
    return StakedChain(chain, deployment, accounts, chain.w3.provider.ethereum_tester.take_snapshot())
