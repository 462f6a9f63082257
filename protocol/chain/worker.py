"""One transaction worker per account: the only code that sends that account's transactions.

It owns the nonce (so concurrent callers never race), estimates gas (which is where a revert
reason surfaces first), signs locally, retries transient failures, waits for the receipt and
turns every failure into `ProtocolError(ChainReason.X, detail)`. web3 is synchronous: each
job runs in `trio.to_thread.run_sync`, one at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import requests
import trio
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import BlockNotFound, TransactionFailed, ValidationError
from eth_utils.exceptions import ValidationError as EthValidationError
from web3 import Web3
from web3.exceptions import ContractLogicError, MismatchedABI, TimeExhausted, Web3Exception, Web3ValidationError

from protocol.chain.reasons import ChainReason, revert_error
from protocol.errors import ProtocolError

GAS_HEADROOM = 1.25
# BlockNotFound: the embedded eth-tester chain raises it when a request races a block being
# mined (it is not thread-safe; protocol/chain/backends.py serialises requests, so this is
# a last line of defence): the node's state, not the transaction, was at fault, so retry.
TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, BlockNotFound)
# What a web3 call can raise: web3's own errors, the embedded chain's, transport errors.
CHAIN_ERRORS = (Web3Exception, TransactionFailed, ValidationError, EthValidationError, ValueError, OSError, *TRANSIENT)
# How nodes say "that transaction (or its nonce) is already in": on a re-send, it means ours got there.
ALREADY_IN = ("already known", "nonce too low", "already imported", "invalid transaction nonce")


@dataclass(frozen=True)
class TxResult:
    label: str
    tx_hash: str
    gas_used: int
    block: int
    seconds: float
    events: list = field(default_factory=list)  # decoded (name, args) pairs, see ChainClient
    contract_address: str | None = None  # set by deployments

    def event(self, name: str) -> dict:
        for event_name, args in self.events:
            if event_name == name:
                return args
        raise ProtocolError(ChainReason.REVERTED, f"{self.label}: no {name} event in {self.tx_hash}")


def _message(exc: BaseException) -> str:
    if isinstance(exc, ContractLogicError):
        return exc.message or str(exc)
    return str(exc)


def classify(exc: BaseException) -> ProtocolError:
    """Map a web3/transport failure to a one-line ProtocolError."""
    if isinstance(exc, ProtocolError):
        return exc
    text = _message(exc)
    low = text.lower()
    if isinstance(exc, (ContractLogicError, TransactionFailed)) or "revert" in low:
        return revert_error(text)
    if "insufficient funds" in low or "sender doesn't have enough funds" in low:
        return ProtocolError(ChainReason.UNFUNDED, text.splitlines()[0][:200])
    if "nonce" in low:
        return ProtocolError(ChainReason.NONCE, text.splitlines()[0][:200])
    if isinstance(exc, (Web3ValidationError, MismatchedABI)):
        return ProtocolError(ChainReason.BAD_ARGUMENT, text.splitlines()[0][:200])
    if isinstance(exc, TimeExhausted):
        return ProtocolError(ChainReason.TX_TIMEOUT, text.splitlines()[0][:200])
    if isinstance(exc, TRANSIENT) or "connection" in low:
        return ProtocolError(ChainReason.RPC_UNREACHABLE, text.splitlines()[0][:200])
    return ProtocolError(ChainReason.REVERTED, f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else ''}")


class TxWorker:
    """Serialises one account's transactions. Start with `nursery.start(worker.serve)`."""

    def __init__(self, w3: Web3, account: LocalAccount, *, retries: int = 3, receipt_timeout: float = 60.0,
                 decode: Callable[[Any], list] | None = None) -> None:
        self.w3 = w3
        self.account = account
        self.retries = retries
        self.receipt_timeout = receipt_timeout
        self.decode = decode or (lambda receipt: [])
        self._nonce: int | None = None
        self._send: trio.MemorySendChannel | None = None
        self.sent = 0

    @property
    def address(self) -> str:
        return self.account.address

    async def serve(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        send, receive = trio.open_memory_channel(64)
        self._send = send
        task_status.started()
        async with receive:
            async for job, reply in receive:
                try:
                    reply["result"] = await trio.to_thread.run_sync(self._run, *job)
                except ProtocolError as exc:
                    reply["error"] = exc
                reply["done"].set()

    async def transact(self, label: str, fn: Any, *, value: int = 0) -> TxResult:
        """Send `fn` (a web3 ContractFunction or a deploy ContractConstructor) and wait for it."""
        if self._send is None:
            raise ProtocolError(ChainReason.BAD_ARGUMENT, "the transaction worker is not running (nursery.start(worker.serve))")
        reply: dict = {"done": trio.Event()}
        await self._send.send(((label, fn, value), reply))
        await reply["done"].wait()
        if "error" in reply:
            raise reply["error"]
        return reply["result"]

    # --- runs in a worker thread -------------------------------------------------------------

    def _run(self, label: str, fn: Any, value: int) -> TxResult:
        """Prepare (estimate, sign) once, send once, wait for the receipt; retry only what is
        safe: a transaction that may have reached the node is re-sent byte for byte (same
        nonce, same hash), never rebuilt, so a flaky connection cannot make it run twice."""
        last: ProtocolError | None = None
        prepared: tuple | None = None
        sent = False
        for attempt in range(self.retries + 1):
            try:
                if prepared is None:
                    prepared = self._prepare(fn, value)
                signed, tx = prepared
                if not sent:
                    started = time.perf_counter()
                    self._send_raw(signed.raw_transaction, resend=attempt > 0)
                    sent = True
                    self._nonce = tx["nonce"] + 1
                    self.sent += 1
                return self._receipt(label, signed.hash, tx, value, started)
            except CHAIN_ERRORS as exc:
                err = classify(exc)
            if err.reason is ChainReason.NONCE and not sent:
                self._nonce, prepared = None, None  # the nonce was used elsewhere: rebuild
            elif err.reason is not ChainReason.RPC_UNREACHABLE:
                raise err
            last = err
            time.sleep(0.2 * (attempt + 1))
        assert last is not None
        raise last

    def _prepare(self, fn: Any, value: int) -> tuple:
        w3 = self.w3
        sender = self.account.address
        if self._nonce is None:
            self._nonce = w3.eth.get_transaction_count(sender, "pending")
            if w3.eth.get_balance(sender) == 0:
                raise ProtocolError(ChainReason.UNFUNDED, f"account {sender} has no ETH for gas on chain {w3.eth.chain_id}")
        base = {"from": sender, "value": value}
        gas = fn.estimate_gas(base)
        tx = fn.build_transaction({**base, "nonce": self._nonce, "gas": int(gas * GAS_HEADROOM) + 10_000,
                                   "chainId": w3.eth.chain_id})
        return self.account.sign_transaction(tx), tx

    def _send_raw(self, raw: bytes, *, resend: bool) -> None:
        try:
            self.w3.eth.send_raw_transaction(raw)
        except CHAIN_ERRORS as exc:
            text = str(exc).lower()
            if resend and any(marker in text for marker in ALREADY_IN):
                return  # our earlier attempt did reach the node
            raise

    def _receipt(self, label: str, tx_hash: bytes, tx: dict, value: int, started: float) -> TxResult:
        w3 = self.w3
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.receipt_timeout, poll_latency=0.01)
        seconds = time.perf_counter() - started
        if receipt["status"] != 1:
            # Passed estimation but failed when mined (the state moved): replay for the reason.
            try:
                w3.eth.call({"from": self.account.address, "value": value, "to": tx.get("to"), "data": tx["data"]},
                            receipt["blockNumber"] - 1)
            except (ContractLogicError, TransactionFailed) as exc:
                raise revert_error(_message(exc)) from exc
            raise ProtocolError(ChainReason.REVERTED, f"{label}: transaction 0x{bytes(tx_hash).hex()} failed without a reason")
        return TxResult(label, "0x" + bytes(tx_hash).hex(), receipt["gasUsed"], receipt["blockNumber"], seconds,
                        self.decode(receipt), receipt.get("contractAddress"))
