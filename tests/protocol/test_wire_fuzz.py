"""Decoder fuzzing: only ProtocolError may escape, and no altered bytes ever verify."""

from __future__ import annotations

import os

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wire_strategies import BODIES, FRAMES, MSGPACK_VALUES, SIGNERS

from protocol.errors import ProtocolError
from protocol.wire import (
    DisputeNotice,
    SIGNING_DOMAIN,
    WireReason,
    decode_frame,
    decode_frame_payload,
    decode_message,
    encode_frame,
    encode_message,
)

NOW = 1_790_000_000_000
# WIRE_FUZZ_EXAMPLES=20000 for a long fuzzing session; the suite default stays fast.
FUZZ = settings(
    max_examples=int(os.environ.get("WIRE_FUZZ_EXAMPLES", "150")), suppress_health_check=[HealthCheck.too_slow]
)


def decode_or_reason(data: bytes):
    try:
        return decode_message(data, now_ms=NOW)
    except ProtocolError as exc:
        assert isinstance(exc.reason, WireReason)
        return exc.reason


@st.composite
def mutations(draw, data: bytes) -> bytes:
    """One byte-level edit of `data`: flip, set, insert, delete, truncate, extend, splice."""
    op = draw(st.sampled_from(["flip", "set", "insert", "delete", "truncate", "extend", "splice"]))
    i = draw(st.integers(0, len(data) - 1))
    if op == "flip":
        return data[:i] + bytes([data[i] ^ (1 << draw(st.integers(0, 7)))]) + data[i + 1:]
    if op == "set":
        return data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1:]
    if op == "insert":
        return data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
    if op == "delete":
        return data[:i] + data[i + draw(st.integers(1, 8)):]
    if op == "truncate":
        return data[:i]
    if op == "extend":
        return data + draw(st.binary(min_size=1, max_size=8))
    j = draw(st.integers(i, len(data)))
    return data[:i] + draw(st.binary(max_size=16)) + data[j:]


@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes_only_raise_protocol_error(data):
    assert isinstance(decode_or_reason(data), WireReason)


@FUZZ
@given(value=MSGPACK_VALUES)
def test_random_msgpack_values_only_raise_protocol_error(value):
    assert isinstance(decode_or_reason(msgpack.packb(value)), WireReason)


@FUZZ
@given(st.data())
def test_mutated_messages_never_verify(data):
    body = data.draw(BODIES)
    original = encode_message(SIGNERS[0], body, seq=7, ts=NOW)
    mutated = data.draw(mutations(original))
    result = decode_or_reason(mutated)
    if mutated == original:
        assert result.body == body
    else:
        assert isinstance(result, WireReason), "an altered message was accepted"


def _slots(tree, path=()):
    """Every (container, key) position in a decoded msgpack tree, depth first."""
    if isinstance(tree, dict):
        items = tree.items()
    elif isinstance(tree, list):
        items = enumerate(tree)
    else:
        return
    for key, child in items:
        yield tree, key
        yield from _slots(child)


@FUZZ
@given(st.data())
def test_signed_structural_garbage_only_raises_protocol_error(data):
    """Validly signed envelopes with an arbitrary msgpack value put anywhere (envelope
    field, body field, nested group, completion, param): the schema, not the
    signature, must stop them, and never with a stray exception."""
    body = data.draw(BODIES)
    fields = msgpack.unpackb(encode_message(SIGNERS[0], body, seq=7, ts=NOW))
    del fields["sig"]
    slots = list(_slots(fields))
    container, key = slots[data.draw(st.integers(0, len(slots) - 1))]
    container[key] = data.draw(MSGPACK_VALUES)
    signed = SIGNING_DOMAIN + msgpack.packb(fields)
    message = msgpack.packb({**fields, "sig": SIGNERS[0].sign(signed)})
    result = decode_or_reason(message)
    if not isinstance(result, WireReason):  # the garbage happened to be valid: it must mean it
        assert msgpack.unpackb(message)["body"] == msgpack.unpackb(result.body.encode())


def test_every_single_bit_flip_is_refused():
    """Exhaustive over one small message: no flipped bit anywhere verifies."""
    original = encode_message(
        SIGNERS[0], DisputeNotice(claim_digest=b"\1" * 32, accused=SIGNERS[1].peer_id, game_id=3, chain_id=1,
                                  tx_hash=b"", reason="trace mismatch"),
        seq=7, ts=NOW,
    )
    for i in range(len(original)):
        for bit in range(8):
            flipped = original[:i] + bytes([original[i] ^ (1 << bit)]) + original[i + 1:]
            assert isinstance(decode_or_reason(flipped), WireReason), (i, bit)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_frames_only_raise_protocol_error(data):
    for decode, arg in ((decode_frame, data), (decode_frame_payload, data), (decode_frame, len(data).to_bytes(4, "big") + data)):
        try:
            decode(arg)
        except ProtocolError as exc:
            assert isinstance(exc.reason, WireReason)


@FUZZ
@given(st.data())
def test_mutated_frames_decode_to_something_else_or_fail(data):
    frame = data.draw(FRAMES)
    original = encode_frame(frame)
    mutated = data.draw(mutations(original))
    try:
        decoded = decode_frame(mutated)
    except ProtocolError as exc:
        assert isinstance(exc.reason, WireReason)
        return
    # Frames are unsigned, so a mutation may be another valid frame; it must then be
    # canonical: re-encoding gives the mutated bytes exactly.
    assert encode_frame(decoded) == mutated
    assert (decoded == frame) == (mutated == original)
