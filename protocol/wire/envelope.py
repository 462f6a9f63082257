"""Signed envelopes: `{v, kind, from, seq, ts, body, sig}` as one canonical msgpack map.

Signed bytes = SIGNING_DOMAIN || canonical msgpack of the six-entry map
`{v, kind, from, seq, ts, body}` (the envelope without `sig`).  Because a
decoder accepts only the canonical encoding, the signed bytes are a function
of the received bytes: a fixmap header 0x86 followed by everything between the
7-entry header and the `sig` entry.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from typing import Any

from libp2p.crypto.ed25519 import Ed25519PublicKey
from libp2p.crypto.keys import KeyPair, KeyType
from libp2p.peer.id import ID
from nacl.exceptions import CryptoError

from protocol.errors import ProtocolError
from protocol.wire.bodies import BODY_TYPES, MAX_ENVELOPE_BYTES, MAX_MESSAGE_BYTES, Body, Kind, kind_of
from protocol.wire.codec import describe_value, pack, peek_map_prefix, unpack
from protocol.wire.reasons import WireReason
from protocol.wire.schema import ED25519_PEER_ID_PREFIX, PeerId, UInt, is_ed25519_peer_id, load_at, validated_plain

WIRE_VERSION = 1
SIGNING_DOMAIN = b"swarm-msg/1\0"
SIGNATURE_BYTES = 64
ENVELOPE_FIELDS = ("v", "kind", "from", "seq", "ts", "body", "sig")
_ENVELOPE_FIELD_SET = frozenset(ENVELOPE_FIELDS)
# The canonical `sig` entry: fixstr "sig", bin8 header with length 64, 64 bytes.
_SIG_ENTRY_HEADER = b"\xa3sig\xc4\x40"
_SIG_ENTRY_LEN = len(_SIG_ENTRY_HEADER) + SIGNATURE_BYTES

DEFAULT_MAX_AGE_MS = 5 * 60 * 1000
DEFAULT_MAX_FUTURE_MS = 30 * 1000

_U64 = UInt()
_SENDER = PeerId(reason=WireReason.BAD_SENDER)


@dataclasses.dataclass(frozen=True, repr=False)
class Envelope:
    """A decoded, verified message.  `sender` is the libp2p peer id bytes."""

    v: int
    kind: Kind
    sender: bytes
    seq: int
    ts: int  # unix milliseconds, sender's clock
    body: Body
    sig: bytes

    @property
    def peer_id(self) -> ID:
        return ID(self.sender)

    @property
    def peer_text(self) -> str:
        """The sender's peer id in base58 (as `peer_id.to_base58()`, cached)."""
        return peer_text(self.sender)

    def __repr__(self) -> str:
        return describe(self)


@functools.lru_cache(maxsize=4096)
def peer_text(peer_id: bytes) -> str:
    """A peer id's base58 text. Cached: a peer asks for it on every message it receives,
    about a handful of distinct senders, and base58 of 38 bytes costs ~30 us each time."""
    return ID(peer_id).to_base58()


def describe(envelope: Envelope) -> str:
    """One short line: kind, abbreviated sender, seq, ts and a body summary."""
    pid = peer_text(envelope.sender)
    return (
        f"<{envelope.kind.value} from {pid[:6]}..{pid[-6:]} seq={envelope.seq} "
        f"ts={envelope.ts} {envelope.body.summary()}>"
    )


class Signer:
    """Signs envelopes with a libp2p Ed25519 identity key."""

    def __init__(self, keypair: KeyPair) -> None:
        if keypair.private_key.get_type() is not KeyType.Ed25519:
            raise ProtocolError(WireReason.BAD_SENDER, "only Ed25519 libp2p keys can sign swarm messages")
        self._private_key = keypair.private_key
        self.peer_id: bytes = ID.from_pubkey(keypair.public_key).to_bytes()
        if not is_ed25519_peer_id(self.peer_id):  # defensive: libp2p changed its inlining rule
            raise ProtocolError(WireReason.BAD_SENDER, "peer id is not an identity multihash")

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)


def _unsigned_map(kind: Kind, sender: bytes, seq: int, ts: int, body_plain: Any) -> dict[str, Any]:
    return {"v": WIRE_VERSION, "kind": kind.value, "from": sender, "seq": seq, "ts": ts, "body": body_plain}


def encode_message(signer: Signer, body: Body, *, seq: int, ts: int) -> bytes:
    """Validate `body`, sign, and return the canonical envelope bytes.

    Raises ProtocolError (e.g. BAD_VALUE for an invalid body, OVERSIZE when the
    message would exceed its kind's cap) instead of producing bytes a peer drops.
    """
    kind = kind_of(body)
    load_at(_U64, seq, "seq")
    load_at(_U64, ts, "ts")
    unsigned = _unsigned_map(kind, signer.peer_id, seq, ts, validated_plain(type(body), body, "body"))
    unsigned_bytes = pack(unsigned)
    sig = signer.sign(SIGNING_DOMAIN + unsigned_bytes)
    if type(sig) is not bytes or len(sig) != SIGNATURE_BYTES:
        raise ProtocolError(WireReason.BAD_SENDER, "the signer did not produce a 64-byte Ed25519 signature")
    # Same bytes as pack({**unsigned, "sig": sig}) without re-packing the body:
    # fixmap 7 instead of 6, then the unsigned entries, then the sig entry.
    data = b"\x87" + unsigned_bytes[1:] + _SIG_ENTRY_HEADER + sig
    if len(data) > MAX_MESSAGE_BYTES[kind]:
        raise ProtocolError(
            WireReason.OVERSIZE, f"{kind.value} message is {len(data)} bytes, cap {MAX_MESSAGE_BYTES[kind]}"
        )
    return data


def message_id(data: bytes) -> bytes:
    """A GossipSub message id: sha256 of the (canonical, hence unique) bytes."""
    return hashlib.sha256(data).digest()


@functools.lru_cache(maxsize=16384)
def _public_key(sender: bytes) -> Ed25519PublicKey:
    key = ID(sender).extract_public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ProtocolError(WireReason.BAD_SENDER, "peer id does not embed an Ed25519 key")
    return key


def _verify(sender: bytes, signed: bytes, sig: bytes) -> None:
    try:
        ok = _public_key(sender).verify(signed, sig)
    except (CryptoError, ValueError, TypeError):  # e.g. a key that is not a curve point
        ok = False
    if not ok:
        raise ProtocolError(WireReason.BAD_SIGNATURE, "Ed25519 signature does not verify")


def _check_prefix(data: bytes) -> None:
    """Version and per-kind cap from the first bytes, before unpacking the body."""
    pairs = peek_map_prefix(data, 2)
    if not pairs or pairs[0][0] != "v":
        return  # not canonical; the full decode names the precise error
    v = pairs[0][1]
    if type(v) is int and v != WIRE_VERSION:
        raise ProtocolError(WireReason.BAD_VERSION, f"version {v}, this peer speaks {WIRE_VERSION}")
    if len(pairs) == 2 and pairs[1][0] == "kind" and type(pairs[1][1]) is str:
        try:
            kind = Kind(pairs[1][1])
        except ValueError:
            raise ProtocolError(WireReason.UNKNOWN_KIND, f"kind {pairs[1][1][:32]!r}") from None
        if len(data) > MAX_MESSAGE_BYTES[kind]:
            raise ProtocolError(
                WireReason.OVERSIZE, f"{kind.value} message is {len(data)} bytes, cap {MAX_MESSAGE_BYTES[kind]}"
            )


def _required(fields: dict[Any, Any], name: str) -> Any:
    if name not in fields:
        raise ProtocolError(WireReason.MISSING_FIELD, f"envelope: missing field {name!r}")
    return fields[name]


def decode_message(
    data: bytes,
    *,
    now_ms: int,
    max_age_ms: int = DEFAULT_MAX_AGE_MS,
    max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
    expected_kind: Kind | None = None,
    expected_sender: bytes | None = None,
) -> Envelope:
    """Strictly decode and verify one envelope; raise ProtocolError otherwise.

    Checks, in order: byte type and total cap; version and kind cap from the
    prefix; msgpack well-formedness; envelope fields; sender; expected kind and
    sender; body schema; canonical encoding; freshness; signature.  Replay is
    not checked here: feed the result to a ReplayGuard.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError(WireReason.MALFORMED, f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) > MAX_ENVELOPE_BYTES:
        raise ProtocolError(WireReason.OVERSIZE, f"{len(data)} bytes, cap {MAX_ENVELOPE_BYTES}")
    _check_prefix(data)
    fields = unpack(data, MAX_ENVELOPE_BYTES)
    if type(fields) is not dict:
        raise ProtocolError(WireReason.MALFORMED, f"envelope must be a map, got {describe_value(fields)}")

    v = _required(fields, "v")
    if type(v) is not int:
        raise ProtocolError(WireReason.WRONG_TYPE, f"envelope.v: expected int, got {describe_value(v)}")
    if v != WIRE_VERSION:
        raise ProtocolError(WireReason.BAD_VERSION, f"version {v}, this peer speaks {WIRE_VERSION}")
    kind_name = _required(fields, "kind")
    if type(kind_name) is not str:
        raise ProtocolError(WireReason.WRONG_TYPE, f"envelope.kind: expected str, got {describe_value(kind_name)}")
    try:
        kind = Kind(kind_name)
    except ValueError:
        raise ProtocolError(WireReason.UNKNOWN_KIND, f"kind {kind_name[:32]!r}") from None
    if len(data) > MAX_MESSAGE_BYTES[kind]:
        raise ProtocolError(WireReason.OVERSIZE, f"{kind.value} message is {len(data)} bytes, cap {MAX_MESSAGE_BYTES[kind]}")
    for key in fields:
        if key not in _ENVELOPE_FIELD_SET:
            shown = key[:40] if type(key) is str else describe_value(key)
            raise ProtocolError(WireReason.EXTRA_FIELD, f"envelope: unexpected field {shown!r}")
    for name in ENVELOPE_FIELDS:
        _required(fields, name)
    if tuple(fields) != ENVELOPE_FIELDS:
        raise ProtocolError(WireReason.NON_CANONICAL, "envelope fields out of order")

    sender = load_at(_SENDER, fields["from"], "envelope.from")
    seq = load_at(_U64, fields["seq"], "envelope.seq")
    ts = load_at(_U64, fields["ts"], "envelope.ts")
    sig = fields["sig"]
    if type(sig) is not bytes:
        raise ProtocolError(WireReason.WRONG_TYPE, f"envelope.sig: expected bin, got {describe_value(sig)}")
    if len(sig) != SIGNATURE_BYTES:
        raise ProtocolError(WireReason.BAD_VALUE, f"envelope.sig: {len(sig)} bytes, expected {SIGNATURE_BYTES}")
    if expected_kind is not None and kind is not expected_kind:
        raise ProtocolError(WireReason.WRONG_TOPIC, f"{kind.value} message where {expected_kind.value} expected")
    if expected_sender is not None and sender != expected_sender:
        raise ProtocolError(WireReason.SENDER_MISMATCH, "envelope sender differs from the transport's sender")

    body = load_at(BODY_TYPES[kind], fields["body"], "body")
    # The schema has checked every type, field order and map-key order, so
    # re-packing the decoded plain value reproduces the input iff every length
    # and number used its shortest form and floats were float64.
    if pack(fields) != data:
        raise ProtocolError(WireReason.NON_CANONICAL, "valid content but not its canonical encoding")

    if now_ms - ts > max_age_ms:
        raise ProtocolError(WireReason.STALE, f"ts is {now_ms - ts} ms old, max {max_age_ms}")
    if ts - now_ms > max_future_ms:
        raise ProtocolError(WireReason.FUTURE, f"ts is {ts - now_ms} ms ahead, max {max_future_ms}")

    # Canonical layout: 0x87 header, entries v..body, then the 70-byte sig entry.
    _verify(sender, SIGNING_DOMAIN + b"\x86" + data[1:-_SIG_ENTRY_LEN], sig)
    return Envelope(v=v, kind=kind, sender=sender, seq=seq, ts=ts, body=body, sig=sig)


__all__ = [
    "DEFAULT_MAX_AGE_MS",
    "DEFAULT_MAX_FUTURE_MS",
    "ED25519_PEER_ID_PREFIX",
    "Envelope",
    "SIGNING_DOMAIN",
    "Signer",
    "WIRE_VERSION",
    "decode_message",
    "describe",
    "encode_message",
    "message_id",
]
