"""Serve the embedded py-evm chain over HTTP JSON-RPC on 127.0.0.1 (`swarm chain up`).

Neither web3.py nor eth-tester ships a server, so this is a small one: trio for the sockets,
h11 for HTTP/1.1, and web3's own EthereumTesterProvider (with its formatting middleware) for
every call, so peers in other processes see exactly what an in-process client would. Calls
run one at a time in a worker thread (py-evm is not thread-safe). Besides the standard
methods it answers `evm_increaseTime` and `evm_mine` like anvil, so time travel works the
same on both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import h11
import trio
from hexbytes import HexBytes
from web3 import Web3

from protocol.chain.backends import embedded_lock

MAX_BODY = 4 * 1024 * 1024


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, HexBytes)):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class EmbeddedRpc:
    """Answers JSON-RPC request objects against one in-process chain (synchronously)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._call = w3.provider.request_func(w3, w3.middleware_onion)
        self._offset = 0  # seconds added by evm_increaseTime, applied on the next evm_mine

    def handle(self, request: Any) -> dict:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        rid, method, params = request.get("id"), request["method"], request.get("params") or []
        try:
            if method == "evm_increaseTime":
                self._offset += int(params[0], 16) if isinstance(params[0], str) else int(params[0])
                result: Any = self._offset
            elif method == "evm_mine":
                tester = self.w3.provider.ethereum_tester
                with embedded_lock(self.w3):  # in-process clients of this chain may run in other threads
                    if self._offset:
                        now = self.w3.eth.get_block("latest")["timestamp"]
                        tester.time_travel(now + self._offset)
                        self._offset = 0
                    else:
                        tester.mine_blocks(1)
                result = "0x0"
            else:
                response = self._call(method, params)
                if "error" in response:
                    return {"jsonrpc": "2.0", "id": rid, "error": _jsonable(response["error"])}
                result = response.get("result")
        except Exception as exc:  # noqa: BLE001 - any failure of one call becomes that call's JSON-RPC error
            message = str(exc) or type(exc).__name__
            data = getattr(exc, "data", None)
            error = {"code": 3 if "revert" in message.lower() else -32000, "message": message}
            if data is not None:
                error["data"] = _jsonable(data)
            return {"jsonrpc": "2.0", "id": rid, "error": error}
        return {"jsonrpc": "2.0", "id": rid, "result": _jsonable(result)}


async def _respond(stream: trio.SocketStream, conn: h11.Connection, status: int, body: bytes) -> None:
    headers = [("content-type", "application/json"), ("content-length", str(len(body)))]
    await stream.send_all(conn.send(h11.Response(status_code=status, headers=headers)))
    await stream.send_all(conn.send(h11.Data(data=body)))
    await stream.send_all(conn.send(h11.EndOfMessage()))


async def _serve_connection(stream: trio.SocketStream, rpc: EmbeddedRpc, limiter: trio.CapacityLimiter) -> None:
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_BODY)
    body = b""
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                with trio.move_on_after(60) as idle:
                    data = await stream.receive_some(65536)
                if idle.cancelled_caught or not data:
                    return
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    await _respond(stream, conn, 413, b'{"error":"body too large"}')
                    return
            elif isinstance(event, h11.EndOfMessage):
                try:
                    request = json.loads(body)
                except ValueError:
                    reply: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
                else:
                    if isinstance(request, list):
                        reply = [await trio.to_thread.run_sync(rpc.handle, r, limiter=limiter) for r in request]
                    else:
                        reply = await trio.to_thread.run_sync(rpc.handle, request, limiter=limiter)
                try:
                    payload = json.dumps(reply).encode()
                except (TypeError, ValueError) as exc:  # a result we cannot encode: say so, keep serving
                    payload = json.dumps({"jsonrpc": "2.0", "id": None,
                                          "error": {"code": -32603, "message": f"unencodable result: {exc}"}}).encode()
                await _respond(stream, conn, 200, payload)
                body = b""
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
            elif isinstance(event, (h11.ConnectionClosed,)):
                return
    except (h11.RemoteProtocolError, trio.BrokenResourceError, trio.ClosedResourceError, ConnectionError):
        return
    finally:
        await stream.aclose()


async def serve_embedded(w3: Web3, *, host: str = "127.0.0.1", port: int = 0,
                         task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Serve `w3` (an embedded chain) until cancelled; `nursery.start` returns the bound port."""
    rpc = EmbeddedRpc(w3)
    limiter = trio.CapacityLimiter(1)
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()[1]

    async def handler(stream: trio.SocketStream) -> None:
        await _serve_connection(stream, rpc, limiter)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, handler, listeners)
        task_status.started(bound)
