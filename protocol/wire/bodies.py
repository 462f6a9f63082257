"""Message kinds and their bodies (frozen dataclasses with typed, bounded fields).

Field order here IS the wire order (canonical encoding); docs/protocol.md
mirrors these tables.  Changing a field, a bound or an order is a protocol
version change.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from typing import Any

from protocol.wire.codec import pack
from protocol.wire.schema import (
    HASH32,
    HASH32_OR_EMPTY,
    Blob,
    Float,
    ListOf,
    Nested,
    PeerId,
    ScalarMap,
    Struct,
    Text,
    UInt,
    validated_plain,
    wire,
)
from protocol.errors import ProtocolError
from protocol.wire.reasons import WireReason


class Kind(enum.Enum):
    """Gossip message kinds; the value is the `kind` string on the wire."""

    CAPS = "caps"
    ROLLOUTS = "rollouts"
    ROLLOUT_ANNOUNCE = "announce"
    CLAIM = "claim"
    DISPUTE = "dispute"


# Raw size caps per kind, checked on the undecoded bytes.  All well under 1 MiB:
# py-libp2p 0.8.1's publish() silently drops larger messages.
MAX_MESSAGE_BYTES: dict[Kind, int] = {
    Kind.CAPS: 16 * 1024,
    Kind.ROLLOUTS: 384 * 1024,
    Kind.ROLLOUT_ANNOUNCE: 2 * 1024,
    Kind.CLAIM: 16 * 1024,
    Kind.DISPUTE: 1024,
}
MAX_ENVELOPE_BYTES = max(MAX_MESSAGE_BYTES.values())

MAX_ROLLOUT_SHARDS = 1024
U16 = UInt(hi=2**16 - 1)
U32 = UInt(hi=2**32 - 1)
TASK_NAME = Text(max_bytes=64, min_bytes=1)
DEVICE_KINDS = frozenset({"cpu", "cuda", "mps"})
ROLLOUT_MODES = frozenset({"broadcast", "announce"})


class Body(Struct):
    """A gossip body: knows its kind and has a canonical digest."""

    KIND: Kind

    def encode(self) -> bytes:
        """Canonical msgpack of this body (validated first)."""
        return pack(validated_plain(type(self), self, "body"))

    def digest(self) -> bytes:
        """sha256(b"swarm-<kind>/1\\0" || canonical body bytes), cached."""
        cached = self.__dict__.get("_digest")
        if cached is None:
            cached = hashlib.sha256(b"swarm-" + self.KIND.value.encode() + b"/1\0" + self.encode()).digest()
            object.__setattr__(self, "_digest", cached)
        return cached

    def summary(self) -> str:
        """A one-line description that never dumps large payloads."""
        return type(self).__name__

    def __repr__(self) -> str:  # used where a subclass turns off the dataclass repr
        return self.summary()


@dataclasses.dataclass(frozen=True)
class Capabilities(Body):
    KIND = Kind.CAPS
    device_kind: str = wire(Text(max_bytes=8, choices=DEVICE_KINDS))
    device_name: str = wire(Text(max_bytes=128))
    memory_bytes: int = wire(UInt())
    throughput: float = wire(Float(lo=0.0))  # the client benchmark's figure; higher is faster
    model: str = wire(Text(max_bytes=128))
    software: str = wire(Text(max_bytes=64))
    chain_address: bytes = wire(Blob(sizes=frozenset({0, 20})))
    listen_addrs: tuple[str, ...] = wire(ListOf(Text(max_bytes=256, min_bytes=1), max_items=16))
    specialties: tuple[str, ...] = wire(ListOf(TASK_NAME, max_items=32))
    rollout_mode: str = wire(Text(max_bytes=16, choices=ROLLOUT_MODES))
    shards: tuple[int, ...] = wire(ListOf(UInt(hi=MAX_ROLLOUT_SHARDS - 1), max_items=256, sorted_unique=True))

    def summary(self) -> str:
        return (
            f"Capabilities({self.device_kind}:{self.device_name[:32]!r}, model={self.model[:32]!r}, "
            f"throughput={self.throughput:.3g}, mode={self.rollout_mode}, shards={len(self.shards)})"
        )


@dataclasses.dataclass(frozen=True)
class Rollout(Struct):
    text: str = wire(Text(max_bytes=16 * 1024))
    tokens: int = wire(U32)  # token count under the sender's tokenizer (informative only)


# Task parameters: enough for procedural generators and reasoning-gym configs.
TASK_PARAMS = ScalarMap(max_items=32, max_key_bytes=64, max_str_bytes=1024)


@dataclasses.dataclass(frozen=True)
class RolloutGroup(Struct):
    """G completions of one task instance.  The instance is (task, params, seed):
    receivers regenerate question and ground truth from it and score themselves."""

    task: str = wire(TASK_NAME)
    params: dict[str, Any] = wire(TASK_PARAMS)
    seed: int = wire(UInt())
    completions: tuple[Rollout, ...] = wire(ListOf(Nested(Rollout), max_items=64, min_items=1))


@dataclasses.dataclass(frozen=True, repr=False)  # repr: summary(), not 200 KB of text
class RolloutBatch(Body):
    """A full rollout broadcast.  Deliberately carries no answers and no rewards."""

    KIND = Kind.ROLLOUTS
    round: int = wire(UInt())
    checkpoint: bytes = wire(HASH32)  # hash of the policy checkpoint that generated it
    groups: tuple[RolloutGroup, ...] = wire(ListOf(Nested(RolloutGroup), max_items=256, min_items=1))

    def batch_id(self) -> bytes:
        """The id that RolloutAnnounce and /swarm/batch/1 use: this body's digest."""
        return self.digest()

    def summary(self) -> str:
        n = sum(len(g.completions) for g in self.groups)
        return f"RolloutBatch(round={self.round}, groups={len(self.groups)}, completions={n})"


@dataclasses.dataclass(frozen=True)
class RolloutAnnounce(Body):
    """Announce-then-pull: about 100 bytes of body; fetch the batch by id over /swarm/batch/1."""

    KIND = Kind.ROLLOUT_ANNOUNCE
    round: int = wire(UInt())
    batch_id: bytes = wire(HASH32)  # RolloutBatch.digest() of the announced batch
    tasks: tuple[str, ...] = wire(ListOf(TASK_NAME, max_items=16, min_items=1, sorted_unique=True))
    groups: int = wire(UInt(lo=1, hi=256))
    size: int = wire(UInt(lo=1, hi=MAX_MESSAGE_BYTES[Kind.ROLLOUTS]))  # len(batch.encode())

    def summary(self) -> str:
        return f"RolloutAnnounce(round={self.round}, id={self.batch_id[:4].hex()}, groups={self.groups}, size={self.size})"


HPARAMS = ScalarMap(max_items=32, max_key_bytes=32, max_str_bytes=64, max_list_items=4)


@dataclasses.dataclass(frozen=True)
class Claim(Body):
    """One training update: enough for any peer to re-execute it and compare."""

    KIND = Kind.CLAIM
    round: int = wire(UInt())
    ckpt_before: bytes = wire(HASH32)
    ckpt_after: bytes = wire(HASH32)
    batch_digest: bytes = wire(HASH32)  # the SAPO training batch's digest (I local + J external)
    hparams: dict[str, Any] = wire(HPARAMS)
    trace_root: bytes = wire(HASH32)
    op_count: int = wire(UInt())
    local_samples: int = wire(U32)
    external_samples: int = wire(U32)
    # Optimizer steps from ckpt_before to ckpt_after: the length of Verde's level-1
    # bisection and the `steps` of the on-chain claim.  Last only so it can default.
    steps: int = wire(UInt(lo=1), default=1)

    def hparams_digest(self) -> bytes:
        """sha256(b"swarm-hparams/1\\0" || canonical msgpack of the hparams map)."""
        plain = validated_plain(HPARAMS, self.hparams, "hparams")
        return hashlib.sha256(b"swarm-hparams/1\0" + pack(plain)).digest()

    def summary(self) -> str:
        return (
            f"Claim(round={self.round}, {self.ckpt_before[:4].hex()}->{self.ckpt_after[:4].hex()}, "
            f"steps={self.steps}, ops={self.op_count}, samples={self.local_samples}+{self.external_samples})"
        )


@dataclasses.dataclass(frozen=True)
class DisputeNotice(Body):
    KIND = Kind.DISPUTE
    claim_digest: bytes = wire(HASH32)  # Claim.digest() of the disputed claim
    accused: bytes = wire(PeerId())
    game_id: int = wire(UInt())
    chain_id: int = wire(UInt())
    tx_hash: bytes = wire(HASH32_OR_EMPTY)  # the transaction that opened the game, if any
    reason: str = wire(Text(max_bytes=128))

    def summary(self) -> str:
        return f"DisputeNotice(game={self.game_id}, chain={self.chain_id}, claim={self.claim_digest[:4].hex()})"


BODY_TYPES: dict[Kind, type[Body]] = {
    Kind.CAPS: Capabilities,
    Kind.ROLLOUTS: RolloutBatch,
    Kind.ROLLOUT_ANNOUNCE: RolloutAnnounce,
    Kind.CLAIM: Claim,
    Kind.DISPUTE: DisputeNotice,
}


def kind_of(body: object) -> Kind:
    kind = getattr(type(body), "KIND", None)
    if not isinstance(kind, Kind) or BODY_TYPES.get(kind) is not type(body):
        raise ProtocolError(WireReason.UNKNOWN_KIND, f"{type(body).__name__} is not a message body")
    return kind
