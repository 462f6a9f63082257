"""How the transaction worker names chain failures (protocol/chain/worker.py classify)."""

from __future__ import annotations

from eth_tester.exceptions import BlockNotFound, TransactionFailed

from protocol.chain.reasons import ChainReason
from protocol.chain.worker import CHAIN_ERRORS, classify


def test_a_block_raced_by_mining_is_a_transient_node_error_not_a_crash():
    """Regression: eth-tester's BlockNotFound (a request racing a block being mined on the
    embedded chain) was not in CHAIN_ERRORS, so it escaped TxWorker as a raw exception."""
    exc = BlockNotFound("No block with hash 0x00 found")
    assert isinstance(exc, CHAIN_ERRORS)
    assert classify(exc).reason is ChainReason.RPC_UNREACHABLE  # retried by the worker


def test_reverts_nonces_and_funds_keep_their_reasons():
    assert classify(TransactionFailed("execution reverted: Game: not open")).reason is not ChainReason.RPC_UNREACHABLE
    assert classify(ValueError("nonce too low")).reason is ChainReason.NONCE
    assert classify(ValueError("insufficient funds for gas * price + value")).reason is ChainReason.UNFUNDED
