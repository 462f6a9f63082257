"""Fixtures for the Verde tests: one embedded chain with the contracts (and OpStep) deployed
once per session, rolled back to a snapshot before every chain test; one real tiny training
step, executed once per session."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kit import HPARAMS, StakedChain, staked_chain, tiny_batch, tiny_checkpoint  # tests/verde is on sys.path
from protocol.chain import ChainClient
from protocol.chain.selftest import SELFTEST_PARAMS
from verde import execute


@pytest.fixture(scope="session")
def honest():
    """One real RepOps training step of the tiny policy, every op's tensors kept."""
    return execute(tiny_checkpoint(), tiny_batch(), HPARAMS, 1)


@pytest.fixture(scope="session")
def chain_session() -> StakedChain:
    return staked_chain()


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
