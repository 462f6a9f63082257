"""Helpers shared by the chain tests (importable as `chainkit`: pytest puts this folder on sys.path)."""

from __future__ import annotations

from contextlib import asynccontextmanager

import pytest

from protocol.chain import ChainClient, ChainReason
from protocol.chain.commit import Claim
from protocol.chain.selftest import peer_key_pair, sign_binding
from protocol.errors import ProtocolError


@asynccontextmanager
async def reverts(reason: ChainReason):
    """Assert the block raises ProtocolError with exactly `reason`."""
    with pytest.raises(ProtocolError) as caught:
        yield
    assert caught.value.reason is reason, f"expected {reason}, got {caught.value}"


async def register(client: ChainClient, chain_id: int) -> bytes:
    key, public = peer_key_pair()
    await client.registry.register(public, sign_binding(key, chain_id, client.registry.address, client.address))
    return public


async def register_and_stake(client: ChainClient, chain_id: int, amount: int) -> bytes:
    public = await register(client, chain_id)
    await client.token.approve(client.registry.address, amount)
    await client.registry.stake(amount)
    return public


def claim_for(client: ChainClient, round_: int = 1, steps: int = 4, before: bytes = b"\x01" * 32,
              after: bytes = b"\x02" * 32) -> Claim:
    return Claim(client.address, round_, bytes([round_ % 256]) * 32, b"\x03" * 32, before, after, steps)
