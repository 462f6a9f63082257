"""Data availability for op-level disputes: the claimant's op outputs over `/swarm/trace/1`.

In a Verde game the challenger names the first wrong element of the op the claimant opened;
for that it needs the claimant's output tensor, of which the chain holds only the root
(docs/verde.md). The claimant keeps its re-executed Execution for every claim under dispute
(`TraceServer.open` when a game opens, `close` when it resolves) and serves exactly the
tensors of that execution's op records: a request names the tensor root (the key) and the
claim (query `claim`: its digest in hex); any other root is NOT_FOUND, so no other memory is
reachable. The blob is a safetensors file with one tensor `t` (dtype and shape in its header).

The challenger side (`TraceFetcher`) fetches with a timeout and checks the root; Verde's
`fetch_tensor` is synchronous, so `prefetch` runs before each of the player's moves and
fills a cache from the op record the claimant opened on-chain.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import torch
import trio
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from repops import merkle
from swarmclient.errors import SwarmError

log = logging.getLogger(__name__)

TRACE_FORMAT = "swarm.tensor/1"
TENSOR_NAME = "t"
QUERY_CLAIM = "claim"
BUSY = "rpc-busy"  # rpc.py answers a provider's SwarmError with this reason as BUSY
ZERO32 = b"\0" * 32


def encode_tensor(tensor: torch.Tensor) -> bytes:
    """A tensor's canonical blob: safetensors, one entry, contiguous little-endian data."""
    return save_tensors({TENSOR_NAME: tensor.detach().contiguous()}, metadata={"format": TRACE_FORMAT})


def decode_tensor(blob: bytes, root: bytes) -> torch.Tensor:
    """The tensor in `blob`, checked against the root the chain committed to."""
    try:
        tensors = load_tensors(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise SwarmError("bad-trace", f"not a tensor blob: {exc}") from None
    if set(tensors) != {TENSOR_NAME}:
        raise SwarmError("bad-trace", f"expected one tensor {TENSOR_NAME!r}, got {sorted(tensors)[:4]}")
    tensor = tensors[TENSOR_NAME]
    if merkle.tensor_root(tensor) != root:
        raise SwarmError("bad-trace", f"the served tensor does not hash to {root.hex()[:16]}")
    return tensor


def trace_roots(execution: Any) -> dict[bytes, torch.Tensor]:
    """Every op output of an execution by root (what a claimant may be asked to open),
    plus the execution's own tensor table (a lying execution's changed outputs)."""
    out: dict[bytes, torch.Tensor] = {}
    for step in execution.steps:
        for op in step.ops:
            for root, tensor in zip(op.record.output_roots, op.outputs):
                out.setdefault(bytes(root), tensor)
    for step in execution.steps:
        for op in step.ops:
            for root in op.record.output_roots:
                if root in execution.tensors:
                    out[bytes(root)] = execution.tensors[root]
    return out


class TraceServer:
    """The claimant's executions under dispute, served by tensor root."""

    def __init__(self) -> None:
        self._open: dict[bytes, dict[bytes, torch.Tensor]] = {}  # claim digest -> root -> tensor
        self._pending: set[bytes] = set()  # claims whose re-execution is still running
        self.counters: Counter[str] = Counter()

    def preparing(self, claim_digest: bytes) -> None:
        """A game opened and the re-execution started: requests get BUSY until `open`."""
        self._pending.add(claim_digest)

    def open(self, claim_digest: bytes, execution: Any) -> None:
        self._open[claim_digest] = trace_roots(execution)
        self._pending.discard(claim_digest)

    def close(self, claim_digest: bytes) -> None:
        """The game resolved: drop the tensors."""
        self._open.pop(claim_digest, None)
        self._pending.discard(claim_digest)

    def is_open(self, claim_digest: bytes) -> bool:
        return claim_digest in self._open

    def provide(self, key: bytes, query: dict[str, Any]) -> bytes | None:
        """rpc provider for "trace": the tensor with root `key` of claim `query["claim"]`."""
        raw = query.get(QUERY_CLAIM)
        try:
            digest = bytes.fromhex(raw) if isinstance(raw, str) else b""
        except ValueError:
            digest = b""
        if len(digest) != 32:
            self.counters["bad-request"] += 1
            raise SwarmError("trace-bad-request", "query `claim` must be the claim digest in hex")
        if digest in self._pending:
            self.counters["busy"] += 1
            raise SwarmError(BUSY, "the claim is being re-executed; ask again shortly")
        tensors = self._open.get(digest)
        if tensors is None:
            self.counters["unknown-claim"] += 1
            return None
        tensor = tensors.get(bytes(key))
        if tensor is None:
            self.counters["unknown-root"] += 1
            return None
        self.counters["served"] += 1
        return encode_tensor(tensor)


class TraceFetcher:
    """The challenger's view of one claimant's trace: fetch, check, cache."""

    def __init__(self, fetch: Callable[..., Any], peer: Any, claim_digest: bytes, *, timeout: float,
                 log_fn: Callable[[str], None] | None = None) -> None:
        self._fetch = fetch  # Node.fetch
        self.peer = peer
        self.claim_digest = claim_digest
        self.timeout = timeout
        self.cache: dict[bytes, torch.Tensor] = {}
        self.failures: Counter[str] = Counter()
        self._logged: set[str] = set()
        self._log = log_fn or log.info
        self._prefetched = b""

    async def fetch(self, root: bytes) -> torch.Tensor | None:
        """The claimant's tensor with this root, or None (the reason is counted and logged
        once per kind)."""
        root = bytes(root)
        if root in self.cache:
            return self.cache[root]
        try:
            with trio.fail_after(self.timeout):
                blob = await self._fetch(self.peer, "trace", root, query={QUERY_CLAIM: self.claim_digest.hex()},
                                         timeout=self.timeout)
            tensor = decode_tensor(blob, root)
        except trio.TooSlowError:
            self._fail("rpc-timeout", root)
            return None
        except SwarmError as exc:
            self._fail(exc.reason, root, exc.detail)
            return None
        self.cache[root] = tensor
        return tensor

    def lookup(self, root: bytes) -> torch.Tensor | None:
        """Verde's synchronous `fetch_tensor`: what `prefetch` brought in."""
        return self.cache.get(bytes(root))

    async def prefetch(self, player: Any, game_id: int) -> None:
        """Before a challenger's move: once the claimant has opened an op, fetch its outputs
        that differ from ours (Verde's pick reads them through `lookup`)."""
        state = await player._call(player._game.functions.verde_state(game_id))
        opened = bytes(state[2])
        if opened == ZERO32 or opened == self._prefetched:
            return
        _, _, _, outputs, _ = await player._opened_record(game_id)
        ours = set(player.execution.tensors)
        missing = 0
        for root in outputs:
            if root not in ours and root not in self.cache and await self.fetch(root) is None:
                missing += 1
        if not missing:  # else ask again before the next move (the claimant may have been BUSY)
            self._prefetched = opened

    def driver(self, player: Any) -> Callable[[int], Any]:
        """`player.step` preceded by `prefetch`: the GamePlayer's driver for this game."""
        async def step(game_id: int) -> Any:
            await self.prefetch(player, game_id)
            return await player.step(game_id)

        return step

    def _fail(self, reason: str, root: bytes, detail: str = "") -> None:
        self.failures[reason] += 1
        if reason not in self._logged:
            self._logged.add(reason)
            self._log(f"trace {root.hex()[:12]} from {str(self.peer)[-8:]}: {reason} {detail[:120]}".rstrip())


__all__ = ["TraceFetcher", "TraceServer", "decode_tensor", "encode_tensor", "trace_roots"]
