"""Fixtures for contract tests: compile Vyper sources and deploy them on the embedded chain.

Kept small on purpose: protocol/chain's compile pipeline replaces `compile_contract` when it
exists. Module imports (`from lib import float32`) resolve against protocol/contracts/.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import vyper
import web3
from eth_tester import EthereumTester, PyEVMBackend
from vyper.compiler.input_bundle import FilesystemInputBundle

CONTRACTS = Path(__file__).resolve().parents[2] / "protocol" / "contracts"
# Ed25519 verification costs on the order of a million gas; leave ample room per block.
GAS_LIMIT = 100_000_000


@functools.cache
def compile_contract(relative_path: str) -> tuple[list, str]:
    """(abi, bytecode hex) of a contract under protocol/contracts/."""
    path = CONTRACTS / relative_path
    out = vyper.compile_code(
        path.read_text(),
        contract_path=str(path),
        input_bundle=FilesystemInputBundle([CONTRACTS]),
        output_formats=["abi", "bytecode"],
    )
    return out["abi"], out["bytecode"]


@pytest.fixture(scope="session")
def w3() -> web3.Web3:
    """A fresh embedded py-evm chain with a high block gas limit."""
    genesis = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": GAS_LIMIT})
    tester = EthereumTester(backend=PyEVMBackend(genesis_parameters=genesis))
    chain = web3.Web3(web3.EthereumTesterProvider(tester))
    chain.eth.default_account = chain.eth.accounts[0]
    return chain


@pytest.fixture(scope="session")
def deploy(w3):
    """deploy("test_harness/x.vy") -> a web3 contract object on the session chain."""

    def _deploy(relative_path: str):
        abi, bytecode = compile_contract(relative_path)
        tx = w3.eth.contract(abi=abi, bytecode=bytecode).constructor().transact()
        receipt = w3.eth.wait_for_transaction_receipt(tx)
        return w3.eth.contract(address=receipt.contractAddress, abi=abi)

    return _deploy
