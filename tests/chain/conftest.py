"""Fixtures for the chain tests: one embedded chain with the contracts deployed once per
session, rolled back to a snapshot before every test; funded accounts with ChainClients whose
transaction workers run in the test's nursery.

Accounts at the snapshot: treasury (deployer, holds the supply); alice (registered, staking
3 x min_stake); bob (20k AI, 10 bonds approved to the game); carol (20k AI, registered, no stake);
dave (ETH only, unregistered)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import trio
from eth_account import Account

from protocol.chain import AI, ChainClient, Deployment, TxWorker, deploy, open_chain
from protocol.chain.selftest import SELFTEST_PARAMS
from chainkit import register, register_and_stake  # noqa: E402  (tests/chain is on sys.path)

TOKENS_EACH = 20_000 * AI


@dataclass
class Session:
    chain: object
    deployment: Deployment
    accounts: dict
    snapshot: int


@pytest.fixture(scope="session")
def chain_session() -> Session:
    chain = open_chain("embedded")
    accounts = {name: Account.create() for name in ("treasury", "alice", "bob", "carol", "dave")}
    for account in accounts.values():
        chain.fund(account.address, 100 * 10**18)

    async def setup() -> Deployment:
        async with trio.open_nursery() as nursery:
            worker = TxWorker(chain.w3, accounts["treasury"])
            await nursery.start(worker.serve)
            deployment = await deploy(chain.w3, worker, SELFTEST_PARAMS)
            token = chain.w3.eth.contract(address=deployment.addresses["Token"], abi=deployment.abis["Token"])
            for name in ("alice", "bob", "carol"):
                await worker.transact("fund", token.functions.transfer(accounts[name].address, TOKENS_EACH))
            # alice: a registered claimant staking 3 games' worth; bob: a challenger with bonds approved
            alice = ChainClient(chain.w3, deployment, accounts["alice"])
            bob = ChainClient(chain.w3, deployment, accounts["bob"])
            for client in (alice, bob):
                await nursery.start(client.worker.serve)
            await register_and_stake(alice, chain.w3.eth.chain_id, 3 * SELFTEST_PARAMS.min_stake)
            carol = ChainClient(chain.w3, deployment, accounts["carol"])
            await nursery.start(carol.worker.serve)
            await register(carol, chain.w3.eth.chain_id)  # Ed25519 on py-evm is slow: once per session
            await bob.token.approve(bob.game.address, 10 * SELFTEST_PARAMS.bond)
            nursery.cancel_scope.cancel()
        return deployment

    deployment = trio.run(setup)
    tester = chain.w3.provider.ethereum_tester
    return Session(chain, deployment, accounts, tester.take_snapshot())


@dataclass
class Env:
    chain: object
    deployment: Deployment
    params: object
    clients: dict

    def __getattr__(self, name: str) -> ChainClient:
        try:
            return self.clients[name]
        except KeyError:
            raise AttributeError(name) from None

    accounts: dict | None = None

    def accounts_of(self, name: str):
        return self.accounts[name]

    @property
    def w3(self):
        return self.chain.w3

    def increase_time(self, seconds: int) -> int:
        return self.chain.increase_time(seconds)

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]


@pytest.fixture
async def env(chain_session, nursery) -> Env:
    tester = chain_session.chain.w3.provider.ethereum_tester
    tester.revert_to_snapshot(chain_session.snapshot)
    clients = {}
    for name, account in chain_session.accounts.items():
        client = ChainClient(chain_session.chain.w3, chain_session.deployment, account, retries=0)
        await nursery.start(client.worker.serve)
        clients[name] = client
    return Env(chain_session.chain, chain_session.deployment, SELFTEST_PARAMS, clients, chain_session.accounts)
