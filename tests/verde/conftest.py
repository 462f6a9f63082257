"""Fixtures for the Verde tests: one embedded chain with the contracts (and OpStep) deployed
once per session, rolled back to a snapshot before every chain test; one real tiny training
step, executed once per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio
from eth_account import Account

from protocol.chain import ChainClient, TxWorker, deploy, open_chain
from protocol.chain.selftest import SELFTEST_PARAMS, peer_key_pair, sign_binding
from protocol.chain.deployment import AI
from kit import HPARAMS, tiny_batch, tiny_checkpoint  # noqa: E402  (tests/verde is on sys.path)
from verde import ensure_stepper, execute


@dataclass
class Session:
    chain: object
    deployment: object
    accounts: dict
    snapshot: int


@pytest.fixture(scope="session")
def honest():
    """One real RepOps training step of the tiny policy, every op's tensors kept."""
    return execute(tiny_checkpoint(), tiny_batch(), HPARAMS, 1)


@pytest.fixture(scope="session")
def chain_session() -> Session:
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
    return Session(chain, deployment, accounts, chain.w3.provider.ethereum_tester.take_snapshot())


@dataclass
class Env:
    chain: object
    params: object
    alice: ChainClient  # a staked claimant
    bob: ChainClient    # a challenger with bonds approved

    def increase_time(self, seconds: int) -> None:
        self.chain.increase_time(seconds)


@pytest.fixture
async def env(chain_session, nursery) -> Env:
    chain_session.chain.w3.provider.ethereum_tester.revert_to_snapshot(chain_session.snapshot)
    clients = {}
    for name in ("alice", "bob"):
        client = ChainClient(chain_session.chain.w3, chain_session.deployment, chain_session.accounts[name], retries=0)
        await nursery.start(client.worker.serve)
        clients[name] = client
    return Env(chain_session.chain, SELFTEST_PARAMS, clients["alice"], clients["bob"])
