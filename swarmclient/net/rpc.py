"""Request/response over libp2p streams for bulk data (checkpoints, batches, traces).

One protocol id per resource (protocol.wire STREAM_PROTOCOLS: /swarm/ckpt/1,
/swarm/batch/1, /swarm/trace/1). The requester opens a stream and sends one BlobRequest
frame; the responder answers with BlobChunk frames (at most MAX_CHUNK_BYTES each) from
the requested offset to the end of the blob, or with one RpcError frame, then closes.
Frames are protocol.wire's: 4-byte length + canonical msgpack, the length checked
before the payload is read, so a peer cannot make us buffer more than one frame.

Every failure surfaces as a SwarmError with reason `rpc-<what>` on the requesting side
and an RpcError frame (plus a counter) on the serving side; nothing raises out of the
stream handler into libp2p.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

import trio
from libp2p.abc import IHost, INetStream
from libp2p.custom_types import TProtocol
from libp2p.peer.id import ID

from protocol.errors import ProtocolError
from protocol.wire import (
    FRAME_HEADER_BYTES,
    MAX_CHUNK_BYTES,
    STREAM_PROTOCOLS,
    BlobChunk,
    BlobRequest,
    RpcError,
    RpcErrorCode,
    decode_frame_payload,
    encode_frame,
    frame_payload_length,
)
from swarmclient.errors import SwarmError
from swarmclient.net.stats import GossipCounters

log = logging.getLogger(__name__)

Provider = Callable[[bytes, dict[str, Any]], "bytes | None | Awaitable[bytes | None]"]

# The largest blob each resource may serve or accept. A checkpoint of the tiny policy is
# a few MB; larger models raise this (the chunked protocol has no limit of its own).
MAX_BLOB_BYTES: dict[str, int] = {
    "ckpt": 512 * 1024 * 1024,
    "batch": 16 * 1024 * 1024,
    "trace": 64 * 1024 * 1024,
}
REQUEST_READ_TIMEOUT_S = 10.0  # a requester that connects and says nothing is dropped
MAX_CONCURRENT_SERVES = 16


class _Eof(Exception):
    pass


async def _read_exactly(stream: INetStream, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        try:
            chunk = await stream.read(n - len(buf))
        except Exception as exc:  # noqa: BLE001 - StreamEOF/StreamReset/StreamError/muxer errors
            raise _Eof(f"stream ended after {len(buf)} of {n} bytes ({type(exc).__name__})") from exc
        if not chunk:
            raise _Eof(f"stream ended after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


async def read_frame(stream: INetStream):  # -> Frame
    header = await _read_exactly(stream, FRAME_HEADER_BYTES)
    length = frame_payload_length(header)  # OVERSIZE before we buffer anything
    return decode_frame_payload(await _read_exactly(stream, length))


class RpcService:
    def __init__(self, host: IHost, counters: GossipCounters, *, is_banned: Callable[[ID], bool]) -> None:
        self.host = host
        self.counters = counters
        self.is_banned = is_banned
        self._providers: dict[str, Provider] = {}
        self._limit = trio.Semaphore(MAX_CONCURRENT_SERVES)
        self._nursery: trio.Nursery | None = None

    def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery

    def provide(self, resource: str, provider: Provider) -> None:
        if resource not in STREAM_PROTOCOLS:
            raise SwarmError("rpc-unknown-resource", f"{resource!r}; known: {sorted(STREAM_PROTOCOLS)}")
        self._providers[resource] = provider

        async def handler(stream: INetStream) -> None:
            await self._serve(resource, stream)

        self.host.set_stream_handler(TProtocol(STREAM_PROTOCOLS[resource]), handler)

    # ---- serving ----

    async def _serve(self, resource: str, stream: INetStream) -> None:
        peer = stream.muxed_conn.peer_id
        try:
            if self.is_banned(peer):
                self.counters.rpc["serve-refused-banned"] += 1
                await stream.reset()
                return
            if self._limit.value == 0:
                self.counters.rpc["serve-busy"] += 1
                await self._send_error(stream, RpcErrorCode.BUSY, "too many concurrent requests")
                return
            async with self._limit:
                await self._answer(resource, stream)
        except Exception as exc:  # noqa: BLE001 - never let a peer's stream kill the host's handler task
            self.counters.rpc["serve-errors"] += 1
            log.debug("serving %s to %s failed: %s", resource, peer, exc)
            try:
                await stream.reset()
            except Exception:  # noqa: BLE001
                pass

    async def _answer(self, resource: str, stream: INetStream) -> None:
        try:
            with trio.fail_after(REQUEST_READ_TIMEOUT_S):
                request = await read_frame(stream)
        except ProtocolError as exc:
            self.counters.rpc["serve-bad-request"] += 1
            await self._send_error(stream, RpcErrorCode.BAD_REQUEST, f"{exc.reason.value}: {exc.detail}"[:256])
            return
        except (trio.TooSlowError, _Eof):
            self.counters.rpc["serve-no-request"] += 1
            await stream.reset()
            return
        if not isinstance(request, BlobRequest) or request.resource != resource:
            self.counters.rpc["serve-bad-request"] += 1
            await self._send_error(stream, RpcErrorCode.BAD_REQUEST, f"expected a {resource} BlobRequest")
            return
        try:
            blob = self._providers[resource](request.key, dict(request.query))
            if inspect.isawaitable(blob):
                blob = await blob
        except SwarmError as exc:  # a provider refusing; "rpc-busy" asks the requester to come back later
            code = RpcErrorCode.BUSY if exc.reason == "rpc-busy" else RpcErrorCode.BAD_REQUEST
            await self._send_error(stream, code, str(exc)[:256])
            return
        except Exception as exc:  # noqa: BLE001 - a provider bug must not take the node down
            log.warning("%s provider failed: %r", resource, exc)
            self.counters.rpc["serve-provider-errors"] += 1
            await self._send_error(stream, RpcErrorCode.INTERNAL, "provider failed")
            return
        if blob is None:
            self.counters.rpc["serve-not-found"] += 1
            await self._send_error(stream, RpcErrorCode.NOT_FOUND, f"no {resource} {request.key.hex()[:16]}..")
            return
        blob = bytes(blob)
        if len(blob) > MAX_BLOB_BYTES[resource]:
            self.counters.rpc["serve-too-large"] += 1
            await self._send_error(stream, RpcErrorCode.TOO_LARGE, f"{len(blob)} bytes > {MAX_BLOB_BYTES[resource]}")
            return
        if request.offset > len(blob):
            await self._send_error(stream, RpcErrorCode.BAD_REQUEST, f"offset {request.offset} > size {len(blob)}")
            return
        offset = request.offset
        while True:
            piece = blob[offset : offset + MAX_CHUNK_BYTES]
            await stream.write(encode_frame(BlobChunk(key=request.key, offset=offset, total=len(blob), data=piece)))
            offset += len(piece)
            if offset >= len(blob):
                break
        self.counters.rpc[f"served-{resource}"] += 1
        self.counters.rpc["served-bytes"] += len(blob) - request.offset
        await stream.close()

    async def _send_error(self, stream: INetStream, code: RpcErrorCode, detail: str) -> None:
        await stream.write(encode_frame(RpcError(code=code, detail=detail)))
        await stream.close()

    # ---- fetching ----

    async def fetch(
        self,
        peer: ID,
        resource: str,
        key: bytes,
        *,
        query: dict[str, Any],
        timeout: float,
        max_bytes: int | None = None,
    ) -> bytes:
        if resource not in STREAM_PROTOCOLS:
            raise SwarmError("rpc-unknown-resource", f"{resource!r}; known: {sorted(STREAM_PROTOCOLS)}")
        cap = min(max_bytes, MAX_BLOB_BYTES[resource]) if max_bytes is not None else MAX_BLOB_BYTES[resource]
        request = encode_frame(BlobRequest(resource=resource, key=key, offset=0, query=query))
        stream: INetStream | None = None
        try:
            with trio.fail_after(timeout):
                stream = await self.host.new_stream(peer, [TProtocol(STREAM_PROTOCOLS[resource])])
                await stream.write(request)
                blob = await self._receive(stream, key, cap)
        except trio.TooSlowError:
            self.counters.rpc["fetch-timeout"] += 1
            if stream is not None:
                await _reset_quietly(stream)
            raise SwarmError("rpc-timeout", f"{resource} {key.hex()[:16]}.. from {peer}: no answer in {timeout} s") from None
        except SwarmError:
            self.counters.rpc["fetch-errors"] += 1
            if stream is not None:
                await _reset_quietly(stream)
            raise
        except ProtocolError as exc:
            self.counters.rpc["fetch-errors"] += 1
            if stream is not None:
                await _reset_quietly(stream)
            raise SwarmError("rpc-bad-frame", f"{peer} sent {exc.reason.value}: {exc.detail}") from exc
        except _Eof as exc:
            self.counters.rpc["fetch-errors"] += 1
            raise SwarmError("rpc-stream-closed", f"{resource} from {peer}: {exc}") from exc
        except Exception as exc:  # noqa: BLE001 - libp2p dial/negotiation errors have no common base
            self.counters.rpc["fetch-errors"] += 1
            if stream is not None:
                await _reset_quietly(stream)
            raise SwarmError("rpc-unreachable", f"{resource} from {peer}: {type(exc).__name__}: {exc}") from exc
        await _close_quietly(stream)
        self.counters.rpc[f"fetched-{resource}"] += 1
        self.counters.rpc["fetched-bytes"] += len(blob)
        return blob

    async def _receive(self, stream: INetStream, key: bytes, cap: int) -> bytes:
        buf = bytearray()
        total: int | None = None
        while True:
            frame = await read_frame(stream)
            if isinstance(frame, RpcError):
                raise SwarmError(f"rpc-{frame.code.value.replace('_', '-')}", frame.detail)
            if not isinstance(frame, BlobChunk):
                raise SwarmError("rpc-bad-frame", f"expected a chunk, got {type(frame).__name__}")
            if frame.key != key:
                raise SwarmError("rpc-bad-frame", "chunk for a different key")
            if total is None:
                total = frame.total
                if total > cap:
                    raise SwarmError("rpc-too-large", f"blob of {total} bytes exceeds the cap of {cap}")
            if frame.total != total or frame.offset != len(buf):
                raise SwarmError("rpc-bad-frame", f"chunk at {frame.offset}/{frame.total}, expected {len(buf)}/{total}")
            buf += frame.data
            if frame.last:
                return bytes(buf)


async def _reset_quietly(stream: INetStream) -> None:
    with trio.move_on_after(1):
        try:
            await stream.reset()
        except Exception:  # noqa: BLE001
            pass


async def _close_quietly(stream: INetStream | None) -> None:
    if stream is None:
        return
    with trio.move_on_after(1):
        try:
            await stream.close()
        except Exception:  # noqa: BLE001
            pass
