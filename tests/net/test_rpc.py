"""Bulk transfer over /swarm/<resource>/1 streams between real nodes."""

from __future__ import annotations

import hashlib
import os

import pytest
import trio

from protocol.wire import MAX_CHUNK_BYTES
from swarmclient.errors import SwarmError

from netutil import star


async def test_fetch_multi_megabyte_blob_in_chunks_and_clear_errors():
    blob = os.urandom(3 * 1024 * 1024 + 12345)
    key = hashlib.sha256(blob).digest()
    calls = []

    def provider(k: bytes, query: dict) -> bytes | None:
        calls.append((k, query))
        return blob if k == key else None

    with trio.fail_after(60):
        async with star(2) as (server, client):
            server.provide("ckpt", provider)
            got = await client.fetch(server.peer_id, "ckpt", key, query={"part": "all"}, timeout=30)
            assert got == blob
            assert calls == [(key, {"part": "all"})]
            assert server.stats().rpc["served-bytes"] == len(blob)
            assert client.stats().rpc["fetched-bytes"] == len(blob)
            assert len(blob) > 10 * MAX_CHUNK_BYTES  # really chunked

            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "ckpt", b"\x00" * 32, timeout=10)
            assert info.value.reason == "rpc-not-found"

            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "ckpt", key, timeout=10, max_bytes=1024 * 1024)
            assert info.value.reason == "rpc-too-large"

            # A resource the server does not provide: protocol negotiation fails.
            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "trace", key, timeout=10)
            assert info.value.reason == "rpc-unreachable"

            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "nonsense", key, timeout=10)
            assert info.value.reason == "rpc-unknown-resource"

            # The server keeps serving after all that.
            assert await client.fetch(server.peer_id, "ckpt", key, timeout=30) == blob


async def test_provider_failure_and_slow_provider_give_clear_errors():
    async def slow(key: bytes, query: dict) -> bytes:
        await trio.sleep(30)
        return b""

    def broken(key: bytes, query: dict) -> bytes:
        raise RuntimeError("disk on fire")

    with trio.fail_after(30):
        async with star(2) as (server, client):
            server.provide("batch", broken)
            server.provide("trace", slow)
            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "batch", b"\x01" * 32, timeout=10)
            assert info.value.reason == "rpc-internal"
            with pytest.raises(SwarmError) as info:
                await client.fetch(server.peer_id, "trace", b"\x01" * 32, timeout=0.5)
            assert info.value.reason == "rpc-timeout"
            assert server.stats().rpc["serve-provider-errors"] == 1


async def test_garbage_request_on_an_rpc_stream_is_answered_with_an_error():
    from libp2p.custom_types import TProtocol

    from protocol.wire import RpcError, RpcErrorCode
    from swarmclient.net.rpc import read_frame

    with trio.fail_after(30):
        async with star(2) as (server, client):
            server.provide("batch", lambda k, q: b"x")
            stream = await client.host.new_stream(server.peer_id, [TProtocol("/swarm/batch/1")])
            await stream.write(b"\x00\x00\x00\x05" + b"\xc1\xc1\xc1\xc1\xc1")
            frame = await read_frame(stream)
            assert isinstance(frame, RpcError) and frame.code is RpcErrorCode.BAD_REQUEST
            stream = await client.host.new_stream(server.peer_id, [TProtocol("/swarm/batch/1")])
            await stream.write(b"\xff\xff\xff\xff")  # announces a 4 GiB frame
            frame = await read_frame(stream)
            assert isinstance(frame, RpcError) and frame.code is RpcErrorCode.BAD_REQUEST
            assert "oversize" in frame.detail
            assert await client.fetch(server.peer_id, "batch", b"\x02" * 32, timeout=10) == b"x"


async def test_fetch_from_a_bad_or_absent_peer_fails_cleanly():
    from libp2p.peer.id import ID
    from libp2p.crypto.ed25519 import create_new_key_pair

    with trio.fail_after(30):
        async with star(1) as (node,):
            with pytest.raises(SwarmError) as info:
                await node.fetch("0OIl-not-base58", "ckpt", b"\x00" * 32, timeout=5)
            assert info.value.reason == "bad-peer-id"
            nobody = ID.from_pubkey(create_new_key_pair().public_key)
            with pytest.raises(SwarmError) as info:
                await node.fetch(nobody, "ckpt", b"\x00" * 32, timeout=5)
            assert info.value.reason in {"rpc-unreachable", "rpc-timeout"}
