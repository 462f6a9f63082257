"""Fixtures for the contract-library tests: compile with the project's pipeline
(protocol.chain.artifacts, module imports resolve against protocol/contracts/) and deploy on
the embedded py-evm chain (protocol.chain.backends, block gas limit 100M)."""

from __future__ import annotations

import functools

import pytest

from protocol.chain.artifacts import Artifact, compile_source
from protocol.chain.backends import embedded_web3


@functools.cache
def compile_contract(relative_path: str) -> Artifact:
    return compile_source(relative_path)


@pytest.fixture(scope="session")
def w3():
    chain = embedded_web3()
    chain.eth.default_account = chain.eth.accounts[0]
    return chain


@pytest.fixture(scope="session")
def deploy(w3):
    """deploy("test_harness/x.vy") -> a web3 contract object on the session chain."""

    def _deploy(relative_path: str):
        art = compile_contract(relative_path)
        tx = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor().transact()
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        return w3.eth.contract(address=receipt.contractAddress, abi=art.abi)

    return _deploy
