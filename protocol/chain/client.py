"""Typed wrappers over the deployed contracts, one per contract, sharing one account's worker.

    client = ChainClient(chain.w3, deployment, account)
    async with trio.open_nursery() as nursery:
        await nursery.start(client.worker.serve)
        await client.registry.register(peer_key, signature)
        await client.token.approve(client.registry.address, amount)
        await client.registry.stake(amount)
        key = (await client.ledger.post_claim(claim)).event("ClaimPosted")["key"]

Writes return a `TxResult` (gas, block, decoded events); views return plain values. Every
failure is a `ProtocolError` with a `ChainReason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import trio
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import MismatchedABI, Web3ValidationError

from protocol.errors import ProtocolError

from protocol.chain.commit import Claim, batch_key, tree_proof, tree_root
from protocol.chain.deployment import Deployment
from protocol.chain.reasons import ChainReason
from protocol.chain.worker import CHAIN_ERRORS, TxResult, TxWorker, classify

ZERO32 = b"\0" * 32


class EventDecoder:
    """Decodes receipt logs of the four contracts into (event name, args) pairs."""

    def __init__(self, contracts: dict[str, Any]) -> None:
        self._by_topic: dict[tuple[str, bytes], Any] = {}
        for contract in contracts.values():
            for abi in contract.abi:
                if abi.get("type") == "event":
                    event = contract.events[abi["name"]]()
                    topic = Web3.keccak(text=f"{abi['name']}({','.join(_abi_type(i) for i in abi['inputs'])})")
                    self._by_topic[(contract.address.lower(), bytes(topic))] = event

    def decode_log(self, log: Any) -> tuple[str, dict] | None:
        if not log["topics"]:
            return None
        event = self._by_topic.get((log["address"].lower(), bytes(log["topics"][0])))
        if event is None:
            return None
        decoded = event.process_log(log)
        return decoded["event"], dict(decoded["args"])

    def decode_receipt(self, receipt: Any) -> list[tuple[str, dict]]:
        return [d for d in (self.decode_log(log) for log in receipt["logs"]) if d is not None]


def _abi_type(item: dict) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + item["type"][5:]
    return item["type"]


class _Wrapper:
    name = ""

    def __init__(self, contract: Any, worker: TxWorker) -> None:
        self.contract = contract
        self.worker = worker

    @property
    def address(self) -> str:
        return self.contract.address

    def _fn(self, name: str, *args: Any) -> Any:
        """The contract call `name(*args)`; arguments that do not fit the ABI are BAD_ARGUMENT."""
        try:
            return self.contract.functions[name](*args)
        except (MismatchedABI, Web3ValidationError, TypeError) as exc:
            raise ProtocolError(ChainReason.BAD_ARGUMENT, f"{self.name}.{name}: {str(exc).strip().splitlines()[-1]}") from exc

    async def _tx(self, label: str, fn: Any) -> TxResult:
        return await self.worker.transact(f"{self.name}.{label}", fn)

    async def _view(self, fn: Any) -> Any:
        def call() -> Any:
            try:
                return fn.call()
            except CHAIN_ERRORS as exc:
                raise classify(exc) from exc

        return await trio.to_thread.run_sync(call)


class TokenClient(_Wrapper):
    name = "Token"

    async def balance_of(self, account: str) -> int:
        return await self._view(self._fn("balanceOf", account))

    async def total_supply(self) -> int:
        return await self._view(self._fn("totalSupply"))

    async def approve(self, spender: str, amount: int) -> TxResult:
        return await self._tx("approve", self._fn("approve", spender, amount))

    async def transfer(self, to: str, amount: int) -> TxResult:
        return await self._tx("transfer", self._fn("transfer", to, amount))


class RegistryClient(_Wrapper):
    name = "Registry"

    async def register(self, peer_key: bytes, signature: bytes) -> TxResult:
        return await self._tx("register", self._fn("register", peer_key, signature))

    async def stake(self, amount: int) -> TxResult:
        return await self._tx("stake", self._fn("stake", amount))

    async def request_unstake(self, amount: int) -> TxResult:
        return await self._tx("request_unstake", self._fn("request_unstake", amount))

    async def withdraw(self) -> TxResult:
        return await self._tx("withdraw", self._fn("withdraw"))

    async def peer_key_of(self, account: str) -> bytes:
        return bytes(await self._view(self._fn("peer_key_of", account)))

    async def stake_of(self, account: str) -> dict[str, int]:
        return {name: await self._view(self._fn(name, account)) for name in ("staked", "unbonding", "locked", "release_at")}

    async def can_claim(self, account: str) -> bool:
        return await self._view(self._fn("can_claim", account))


@dataclass(frozen=True)
class Record:
    status: str  # unknown | posted | final | rejected
    window_end: int
    open_games: int
    count: int
    claimant: str


RECORD_STATUS = {0: "unknown", 1: "posted", 2: "final", 3: "rejected"}


@dataclass(frozen=True)
class BatchRef:
    """Where a claim sits in a posted batch (or `BatchRef.single()` for a lone claim)."""

    epoch: int
    root: bytes
    count: int
    index: int
    proof: tuple[bytes, ...]

    @classmethod
    def single(cls) -> "BatchRef":
        return cls(0, ZERO32, 0, 0, ())

    @classmethod
    def of(cls, epoch: int, claims: Sequence[Claim], index: int) -> "BatchRef":
        leaves = [c.leaf() for c in claims]
        return cls(epoch, tree_root(leaves), len(leaves), index, tuple(tree_proof(leaves, index)))

    def as_tuple(self) -> tuple:
        return (self.epoch, self.root, self.count, self.index, list(self.proof))


class LedgerClient(_Wrapper):
    name = "ClaimLedger"

    async def post_claim(self, claim: Claim) -> TxResult:
        return await self._tx("post_claim", self._fn("post_claim", claim.as_tuple()))

    async def post_batch(self, epoch: int, claims: Sequence[Claim]) -> TxResult:
        root = tree_root([c.leaf() for c in claims])
        return await self._tx("post_batch", self._fn("post_batch", epoch, root, len(claims)))

    async def finalize(self, key: bytes) -> TxResult:
        return await self._tx("finalize", self._fn("finalize", key))

    async def fund(self, amount: int) -> TxResult:
        return await self._tx("fund", self._fn("fund", amount))

    async def record(self, key: bytes) -> Record:
        status, window_end, open_games, count, claimant = await self._view(self._fn("record", key))
        return Record(RECORD_STATUS.get(status, str(status)), window_end, open_games, count, claimant)

    @staticmethod
    def batch_key(claimant: str, epoch: int, claims: Sequence[Claim]) -> bytes:
        return batch_key(claimant, epoch, tree_root([c.leaf() for c in claims]), len(claims))


GAME_STATUS = {0: "unknown", 1: "open", 2: "claimant_won", 3: "challenger_won"}
TURN = {0: "none", 1: "claimant", 2: "challenger"}


@dataclass(frozen=True)
class GameView:
    claimant: str
    challenger: str
    record: bytes
    leaf: bytes
    status: str
    turn: str
    level: int
    lo: int
    hi: int
    h_lo: bytes
    h_hi: bytes


class GameClient(_Wrapper):
    name = "Game"

    async def open(self, claim: Claim, batch: BatchRef | None = None) -> TxResult:
        batch = batch or BatchRef.single()
        return await self._tx("open", self._fn("open", claim.as_tuple(), batch.as_tuple()))

    async def reveal(self, game_id: int, points: Sequence[bytes]) -> TxResult:
        return await self._tx("reveal", self._fn("reveal", game_id, list(points)))

    async def choose(self, game_id: int, part: int, points: Sequence[bytes]) -> TxResult:
        return await self._tx("choose", self._fn("choose", game_id, part, list(points)))

    async def descend(self, game_id: int, length: int, points: Sequence[bytes]) -> TxResult:
        return await self._tx("descend", self._fn("descend", game_id, length, list(points)))

    async def prove_step(self, game_id: int, proof: tuple) -> TxResult:
        return await self._tx("prove_step", self._fn("prove_step", game_id, proof))

    async def timeout(self, game_id: int) -> TxResult:
        return await self._tx("timeout", self._fn("timeout", game_id))

    async def game(self, game_id: int) -> GameView:
        g = await self._view(self._fn("game", game_id))
        return GameView(g[0], g[1], bytes(g[2]), bytes(g[3]), GAME_STATUS.get(g[4], str(g[4])), TURN.get(g[5], str(g[5])),
                        g[6], g[7], g[8], bytes(g[9]), bytes(g[10]))

    async def clocks(self, game_id: int) -> dict[str, Any]:
        claimant, challenger, turn, since = await self._view(self._fn("clocks", game_id))
        return {"claimant_left": claimant, "challenger_left": challenger, "turn": TURN.get(turn, str(turn)),
                "since_last_move": since}


class ChainClient:
    """All four contracts as one account sees them."""

    def __init__(self, w3: Web3, deployment: Deployment, account: LocalAccount, **worker_options: Any) -> None:
        self.w3 = w3
        self.deployment = deployment
        contracts = {n: w3.eth.contract(address=deployment.addresses[n], abi=deployment.abis[n])
                     for n in deployment.addresses}
        self.decoder = EventDecoder(contracts)
        self.worker = TxWorker(w3, account, decode=self.decoder.decode_receipt, **worker_options)
        self.token = TokenClient(contracts["Token"], self.worker)
        self.registry = RegistryClient(contracts["Registry"], self.worker)
        self.ledger = LedgerClient(contracts["ClaimLedger"], self.worker)
        self.game = GameClient(contracts["Game"], self.worker)
        self.contracts = contracts

    @property
    def address(self) -> str:
        return self.worker.address
