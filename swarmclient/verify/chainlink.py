"""One peer's account on the chain: connect, register its peer id, stake, and read balances.

Every write goes through the account's `TxWorker` (protocol.chain), which runs web3 in
`trio.to_thread.run_sync`; views do the same. Registration and staking are idempotent, so a
restarted peer just finds itself registered and staked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trio

from protocol.chain import ChainClient, TxResult, binding_message, load_deployment
from protocol.chain.backends import Chain, rpc_web3
from protocol.chain.worker import CHAIN_ERRORS, classify
from protocol.chain.deployment import AI
from protocol.errors import ProtocolError
from swarmclient.errors import SwarmError

ZERO_KEY = b"\0" * 32
# A devnet's shared chain answers one call at a time and a block full of registrations takes
# py-evm seconds: calls and receipts wait longer than web3's defaults before giving up.
RPC_TIMEOUT_S = 60.0
RECEIPT_TIMEOUT_S = 180.0


def peer_id_of_key(peer_key: bytes) -> str:
    """The libp2p peer id (base58) of a registered 32-byte Ed25519 key."""
    from libp2p.crypto.ed25519 import Ed25519PublicKey
    from libp2p.peer.id import ID

    return ID.from_pubkey(Ed25519PublicKey.from_bytes(peer_key)).to_base58()


@dataclass
class GasMeter:
    """Gas and transactions by label, for the snapshot and the devnet report."""

    gas: Counter = field(default_factory=Counter)
    count: Counter = field(default_factory=Counter)

    def add(self, result: TxResult) -> TxResult:
        label = result.label.split(".", 1)[-1]
        self.gas[label] += result.gas_used
        self.count[label] += 1
        return result

    def to_json(self) -> dict[str, Any]:
        return {"total": sum(self.gas.values()), "by_call": {k: {"gas": self.gas[k], "txs": self.count[k]} for k in sorted(self.gas)}}


class ChainLink:
    def __init__(self, client: ChainClient, chain: Any) -> None:
        self.client = client
        self.chain = chain
        self.deployment = client.deployment
        self.params = client.deployment.params
        self.gas = GasMeter()
        self.staked = trio.Event()
        self.state: dict[str, Any] = {"account": client.address, "symbol": "AI", "decimals": 18}
        self._peer_ids: dict[str, str] = {}

    @classmethod
    async def connect(cls, rpc_url: str, deployment_path: Path, account: Any) -> "ChainLink":
        def blocking() -> tuple[Any, Any]:
            chain = Chain(rpc_web3(rpc_url, timeout=RPC_TIMEOUT_S), "rpc", rpc_url)
            return chain, load_deployment(deployment_path, chain.w3)

        try:
            chain, deployment = await trio.to_thread.run_sync(blocking)
        except ProtocolError as exc:
            raise SwarmError(f"chain-{exc.reason.value}", exc.detail) from None
        return cls(ChainClient(chain.w3, deployment, account, receipt_timeout=RECEIPT_TIMEOUT_S), chain)

    @property
    def address(self) -> str:
        return self.client.address

    async def ensure_staked(self, identity: Any, stake: int) -> None:
        """Register the peer key (once) and top the stake up to `stake` (base units)."""
        c = self.client
        if await c.registry.peer_key_of(c.address) == ZERO_KEY:
            message = binding_message(self.deployment.chain_id, c.registry.address, c.address)
            signature = identity.keypair.private_key.sign(message)
            self.gas.add(await c.registry.register(identity.keypair.public_key.to_bytes(), signature))
        have = (await c.registry.stake_of(c.address))["staked"]
        if have < stake:
            self.gas.add(await c.token.approve(c.registry.address, stake - have))
            self.gas.add(await c.registry.stake(stake - have))
        # Challengers pay a bond per game: one allowance for many games.
        self.gas.add(await c.token.approve(c.game.address, 100 * self.params.bond))
        self.staked.set()
        await self.refresh()

    async def refresh(self) -> None:
        c = self.client
        stake = await c.registry.stake_of(c.address)
        balance = await c.token.balance_of(c.address)
        block = await self.read(lambda w3: w3.eth.block_number)
        self.state.update(stake=str(stake["staked"]), locked=str(stake["locked"]), balance=str(balance),
                          block=block, registered=self.staked.is_set(), gas=self.gas.to_json())

    async def peer_id_of(self, account: str) -> str | None:
        """The peer id registered for `account` (cached), or None when it has none."""
        if account in self._peer_ids:
            return self._peer_ids[account]
        key = await self.client.registry.peer_key_of(account)
        if key == ZERO_KEY:
            return None
        self._peer_ids[account] = peer_id_of_key(key)
        return self._peer_ids[account]

    async def now(self) -> int:
        """The latest block's timestamp (the contracts' clock)."""
        return await self.read(lambda w3: w3.eth.get_block("latest")["timestamp"])

    async def read(self, fn: Any) -> Any:
        """`fn(w3)` in a worker thread; any chain or transport failure is a ProtocolError."""
        w3 = self.client.w3

        def call() -> Any:
            try:
                return fn(w3)
            except CHAIN_ERRORS as exc:
                raise classify(exc) from exc

        return await trio.to_thread.run_sync(call)


def ai(amount: int) -> int:
    return amount * AI


__all__ = ["ChainLink", "GasMeter", "ai", "peer_id_of_key"]
