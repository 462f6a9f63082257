"""Where the chain lives: embedded py-evm (default), anvil started here, or any JSON-RPC URL.

`open_chain(kind)` returns a `Chain`: a connected web3 plus the few node operations the client
needs beyond standard JSON-RPC: time travel (tests, selftest) and funding an account from the
node's own dev accounts (embedded and anvil only).
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import requests
from web3 import Web3
from web3.exceptions import Web3Exception
from web3.providers.eth_tester import EthereumTesterProvider

from protocol.chain.anvil import AnvilProcess, start_anvil
from protocol.chain.reasons import ChainReason
from protocol.errors import ProtocolError

EMBEDDED_GAS_LIMIT = 100_000_000
KINDS = ("embedded", "anvil", "rpc")


class SerialTesterProvider(EthereumTesterProvider):
    """web3's eth-tester provider, one request at a time.

    py-evm is not thread-safe, and every web3 call here runs in some worker thread (each
    account's TxWorker, every player's reads): two transactions applied at once build on the
    same pending block, so one is silently dropped (its sender waits for a receipt that never
    comes) or the chain loses a block mid-mine (BlockNotFound). `lock` is re-entrant, and code
    that drives the tester directly (time travel, mining) holds it too.
    """

    def __init__(self, tester) -> None:
        super().__init__(tester)
        self.lock = threading.RLock()

    def make_request(self, method, params):
        with self.lock:
            return super().make_request(method, params)


def embedded_lock(w3: Web3) -> AbstractContextManager:
    """Hold this around direct use of an embedded chain's tester (a no-op for other backends)."""
    return getattr(w3.provider, "lock", None) or nullcontext()


def embedded_web3() -> Web3:
    """A fresh in-process py-evm chain with ten funded, unlocked dev accounts."""
    from eth_tester import EthereumTester, PyEVMBackend

    genesis = PyEVMBackend.generate_genesis_params(overrides={"gas_limit": EMBEDDED_GAS_LIMIT})
    tester = EthereumTester(backend=PyEVMBackend(genesis_parameters=genesis))
    return Web3(SerialTesterProvider(tester))


def rpc_web3(url: str, timeout: float = 10.0) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except (requests.RequestException, Web3Exception, OSError, ValueError) as exc:
        raise ProtocolError(ChainReason.RPC_UNREACHABLE, f"no JSON-RPC node answers at {url} ({type(exc).__name__})") from exc
    return w3


@dataclass
class Chain:
    w3: Web3
    kind: str
    url: str | None = None
    anvil: AnvilProcess | None = field(default=None, repr=False)

    @property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def _tester(self):
        return getattr(self.w3.provider, "ethereum_tester", None)

    def increase_time(self, seconds: int) -> int:
        """Move the chain clock forward so the next transaction sees block.timestamp >= now + seconds;
        mines a block and returns its timestamp."""
        tester = self._tester()
        if tester is not None:
            with embedded_lock(self.w3):  # no transaction may land between the read and the jump
                now = self.w3.eth.get_block("latest")["timestamp"]
                tester.time_travel(now + seconds)
        else:
            for method, params in (("evm_increaseTime", [seconds]), ("evm_mine", [])):
                response = self.w3.provider.make_request(method, params)
                if "error" in response:
                    raise ProtocolError(ChainReason.BAD_ARGUMENT, f"this node cannot time travel ({method}: {response['error']})")
        return self.w3.eth.get_block("latest")["timestamp"]

    def fund(self, address: str, wei: int) -> None:
        """Send ETH from the node's first dev account (embedded, anvil, `swarm chain up`)."""
        dev = self.w3.eth.accounts
        if not dev:
            raise ProtocolError(ChainReason.UNFUNDED, f"{self.kind} node has no dev accounts to fund {address} from")
        try:
            tx = self.w3.eth.send_transaction({"from": dev[0], "to": address, "value": wei})
            self.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
        except (Web3Exception, ValueError, OSError, requests.RequestException) as exc:
            from protocol.chain.worker import classify

            raise classify(exc) from exc

    def close(self) -> None:
        if self.anvil is not None:
            self.anvil.stop()
            self.anvil = None


def open_chain(kind: str = "embedded", url: str | None = None) -> Chain:
    if kind == "embedded":
        return Chain(embedded_web3(), "embedded")
    if kind == "anvil":
        node = start_anvil()
        try:
            return Chain(rpc_web3(node.url), "anvil", node.url, node)
        except ProtocolError:
            node.stop()
            raise
    if kind == "rpc":
        if not url:
            raise ProtocolError(ChainReason.BAD_ARGUMENT, "--rpc URL is needed for the rpc backend")
        return Chain(rpc_web3(url), "rpc", url)
    raise ProtocolError(ChainReason.BAD_ARGUMENT, f"unknown chain backend {kind!r} (one of {', '.join(KINDS)})")
