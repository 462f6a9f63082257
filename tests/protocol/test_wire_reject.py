"""Every way a message is refused, one reason code each, plus freshness and replay."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libp2p.crypto.ed25519 import create_new_key_pair
from libp2p.crypto.secp256k1 import create_new_key_pair as create_secp256k1_key_pair
from libp2p.peer.id import ID
from wire_strategies import SIGNERS

from protocol.errors import ProtocolError
from protocol.wire import (
    DEFAULT_MAX_AGE_MS,
    DEFAULT_MAX_FUTURE_MS,
    MAX_ENVELOPE_BYTES,
    MAX_MESSAGE_BYTES,
    SIGNING_DOMAIN,
    Capabilities,
    DisputeNotice,
    Kind,
    ReplayGuard,
    Rollout,
    RolloutBatch,
    RolloutGroup,
    SeqCounter,
    Signer,
    WireReason,
    decode_frame,
    decode_frame_payload,
    decode_message,
    encode_message,
    frame_payload_length,
    parse_topic,
)

NOW = 1_790_000_000_000
A, B = SIGNERS[0], SIGNERS[1]


def caps_body() -> Capabilities:
    return Capabilities(
        device_kind="cpu", device_name="test box", memory_bytes=8 << 30, throughput=1234.5, model="tiny-char",
        software="0.1.0", chain_address=b"\x01" * 20, listen_addrs=["/ip4/127.0.0.1/tcp/4001"],
        specialties=["arith"], rollout_mode="broadcast", shards=[0, 5],
    )


def batch_body() -> RolloutBatch:
    group = RolloutGroup(task="arith", params={"digits": 2, "op": "+"}, seed=9, completions=[Rollout("12", 2)])
    return RolloutBatch(round=4, checkpoint=b"\x02" * 32, groups=[group])


def plain(body) -> Any:
    return msgpack.unpackb(body.encode())


def craft(
    body_plain: Any = None,
    *,
    signer: Signer = A,
    sign: bool = True,
    edit=None,
    packer=msgpack.packb,
    **overrides: Any,
) -> bytes:
    """A properly signed envelope whose fields (or body) were changed, so the check
    under test, not the signature, is what refuses it.  `edit` mutates the
    unsigned map before signing."""
    fields: dict[str, Any] = {
        "v": 1, "kind": "caps", "from": signer.peer_id, "seq": 1, "ts": NOW,
        "body": plain(caps_body()) if body_plain is None else body_plain,
    }
    fields.update(overrides)
    if edit is not None:
        edit(fields)
    sig = signer.sign(SIGNING_DOMAIN + packer(fields)) if sign else b"\0" * 64
    return packer({**fields, "sig": sig})


def reason_of(data: bytes, **kwargs: Any) -> WireReason:
    kwargs.setdefault("now_ms", NOW)
    with pytest.raises(ProtocolError) as err:
        decode_message(data, **kwargs)
    assert isinstance(err.value.reason, WireReason)
    return err.value.reason


def test_crafting_helper_makes_valid_messages():
    assert decode_message(craft(), now_ms=NOW).body == caps_body()
    assert craft() == encode_message(A, caps_body(), seq=1, ts=NOW)


def _drop(key):
    return lambda f: f.pop(key)


def _body_edit(fn):
    def edit(fields):
        fn(fields["body"])
    return edit


def _reorder(fields):
    items = list(fields.items())
    fields.clear()
    fields.update([items[1], items[0], *items[2:]])


def _secp_peer_id() -> bytes:
    return ID.from_pubkey(create_secp256k1_key_pair().public_key).to_bytes()


def _str8_kind(data: bytes) -> bytes:
    # fixstr "caps" (0xa4) rewritten as str8 (0xd9 0x04): same value, longer form.
    return data.replace(b"\xa4kind\xa4caps", b"\xa4kind\xd9\x04caps", 1)


def _flip_bit_in_body_text(data: bytes) -> bytes:
    i = data.index(b"test box")
    return data[:i] + b"T" + data[i + 1:]


CASES: list[tuple[str, Any, WireReason]] = [
    ("garbage", lambda: b"\xc1\xc1\xc1", WireReason.MALFORMED),
    ("empty", lambda: b"", WireReason.MALFORMED),
    ("not a map", lambda: msgpack.packb([1, "caps"]), WireReason.MALFORMED),
    ("truncated", lambda: craft()[:-1], WireReason.MALFORMED),
    ("trailing byte", lambda: craft() + b"\x00", WireReason.MALFORMED),
    ("ext type", lambda: craft(edit=lambda f: f.update(seq=msgpack.ExtType(1, b"x"))), WireReason.MALFORMED),
    ("not bytes", lambda: "a string", WireReason.MALFORMED),
    ("over total cap", lambda: b"\x00" * (MAX_ENVELOPE_BYTES + 1), WireReason.OVERSIZE),
    ("over kind cap",
     lambda: craft(edit=_body_edit(lambda b: b.update(device_name="x" * MAX_MESSAGE_BYTES[Kind.CAPS]))),
     WireReason.OVERSIZE),
    ("unknown kind", lambda: craft(kind="gossip-spam"), WireReason.UNKNOWN_KIND),
    ("version 2", lambda: craft(v=2), WireReason.BAD_VERSION),
    ("version 0", lambda: craft(v=0), WireReason.BAD_VERSION),
    ("no seq", lambda: craft(edit=_drop("seq")), WireReason.MISSING_FIELD),
    ("no v", lambda: craft(edit=_drop("v")), WireReason.MISSING_FIELD),
    ("body field missing", lambda: craft(edit=_body_edit(lambda b: b.pop("model"))), WireReason.MISSING_FIELD),
    ("extra envelope field", lambda: craft(edit=lambda f: f.update(extra=1)), WireReason.EXTRA_FIELD),
    ("extra body field", lambda: craft(edit=_body_edit(lambda b: b.update(reward=1.0))), WireReason.EXTRA_FIELD),
    ("float seq", lambda: craft(seq=1.0), WireReason.WRONG_TYPE),
    ("bool ts", lambda: craft(ts=True), WireReason.WRONG_TYPE),
    ("str from", lambda: craft(edit=lambda f: f.update({"from": "12D3Koo"})), WireReason.WRONG_TYPE),
    ("int throughput", lambda: craft(edit=_body_edit(lambda b: b.update(throughput=5))), WireReason.WRONG_TYPE),
    ("bin text", lambda: craft(edit=_body_edit(lambda b: b.update(model=b"m"))), WireReason.WRONG_TYPE),
    ("param nested map",
     lambda: craft(plain(batch_body()), kind="rollouts",
                   edit=_body_edit(lambda b: b["groups"][0]["params"].update(op={"x": 1}))),
     WireReason.WRONG_TYPE),
    ("short hash",
     lambda: craft(plain(batch_body()), kind="rollouts", edit=_body_edit(lambda b: b.update(checkpoint=b"\0" * 31))),
     WireReason.BAD_VALUE),
    ("unknown device", lambda: craft(edit=_body_edit(lambda b: b.update(device_kind="tpu"))), WireReason.BAD_VALUE),
    ("negative seq", lambda: craft(seq=-1), WireReason.BAD_VALUE),
    ("nan throughput",
     lambda: craft(edit=_body_edit(lambda b: b.update(throughput=float("nan")))), WireReason.BAD_VALUE),
    ("unsorted shards", lambda: craft(edit=_body_edit(lambda b: b.update(shards=[5, 0]))), WireReason.BAD_VALUE),
    ("short sig", lambda: craft()[:-1].replace(b"\xa3sig\xc4\x40", b"\xa3sig\xc4\x3f"), WireReason.BAD_VALUE),
    ("no completions",
     lambda: craft(plain(batch_body()), kind="rollouts",
                   edit=_body_edit(lambda b: b["groups"][0].update(completions=[]))),
     WireReason.BAD_VALUE),
    ("str8 for a short str", lambda: _str8_kind(craft()), WireReason.NON_CANONICAL),
    ("fields out of order", lambda: craft(edit=_reorder), WireReason.NON_CANONICAL),
    ("float32 param",
     lambda: craft(plain(batch_body()), kind="rollouts",
                   edit=_body_edit(lambda b: b["groups"][0]["params"].update(ratio=0.5)),
                   packer=lambda o: msgpack.packb(o, use_single_float=True)),
     WireReason.NON_CANONICAL),
    ("unsorted param keys",
     lambda: craft(plain(batch_body()), kind="rollouts",
                   edit=_body_edit(lambda b: b["groups"][0].update(params={"z": 1, "a": 2}))),
     WireReason.NON_CANONICAL),
    ("body fields out of order",
     lambda: craft(edit=_body_edit(lambda b: b.update(device_kind=b.pop("device_kind")))), WireReason.NON_CANONICAL),
    ("secp256k1 sender", lambda: craft(edit=lambda f: f.update({"from": _secp_peer_id()})), WireReason.BAD_SENDER),
    ("sha256 peer id", lambda: craft(edit=lambda f: f.update({"from": b"\x12\x20" + b"\x07" * 32})),
     WireReason.BAD_SENDER),
    ("unsigned", lambda: craft(sign=False), WireReason.BAD_SIGNATURE),
    ("signed by another key", lambda: craft(edit=lambda f: f.update({"from": B.peer_id})), WireReason.BAD_SIGNATURE),
    ("body edited after signing", lambda: _flip_bit_in_body_text(craft()), WireReason.BAD_SIGNATURE),
    ("sig bit flipped", lambda: craft()[:-1] + bytes([craft()[-1] ^ 1]), WireReason.BAD_SIGNATURE),
    ("other domain",
     lambda: craft(sign=False)[:-64] + A.sign(b"other/1\0" + msgpack.packb(msgpack.unpackb(craft())) ), WireReason.BAD_SIGNATURE),
    ("stale", lambda: craft(ts=NOW - DEFAULT_MAX_AGE_MS - 1), WireReason.STALE),
    ("future", lambda: craft(ts=NOW + DEFAULT_MAX_FUTURE_MS + 1), WireReason.FUTURE),
]


@pytest.mark.parametrize("name, make, reason", CASES, ids=[c[0] for c in CASES])
def test_rejection_reason(name, make, reason):
    assert reason_of(make()) is reason


def test_sender_and_topic_expectations():
    data = craft()
    assert reason_of(data, expected_sender=B.peer_id) is WireReason.SENDER_MISMATCH
    assert reason_of(data, expected_kind=Kind.CLAIM) is WireReason.WRONG_TOPIC
    assert decode_message(data, now_ms=NOW, expected_sender=A.peer_id, expected_kind=Kind.CAPS).sender == A.peer_id


def test_freshness_bounds_are_inclusive():
    assert decode_message(craft(ts=NOW - DEFAULT_MAX_AGE_MS), now_ms=NOW)
    assert decode_message(craft(ts=NOW + DEFAULT_MAX_FUTURE_MS), now_ms=NOW)
    assert reason_of(craft(ts=NOW - 1001), max_age_ms=1000) is WireReason.STALE
    assert reason_of(craft(ts=NOW + 11), max_future_ms=10) is WireReason.FUTURE


def test_signer_refuses_non_ed25519_keys():
    with pytest.raises(ProtocolError) as err:
        Signer(create_secp256k1_key_pair())
    assert err.value.reason is WireReason.BAD_SENDER


def test_dispute_accused_must_be_an_ed25519_peer_id():
    notice = DisputeNotice(
        claim_digest=b"\0" * 32, accused=_secp_peer_id(), game_id=1, chain_id=1, tx_hash=b"", reason="x"
    )
    with pytest.raises(ProtocolError) as err:
        encode_message(A, notice, seq=1, ts=NOW)
    assert err.value.reason is WireReason.BAD_VALUE and "accused" in err.value.detail


def test_encode_refuses_non_bodies_and_bad_seq():
    with pytest.raises(ProtocolError) as err:
        encode_message(A, Rollout("x", 1), seq=1, ts=NOW)
    assert err.value.reason is WireReason.UNKNOWN_KIND
    with pytest.raises(ProtocolError) as err:
        encode_message(A, caps_body(), seq=2**64, ts=NOW)
    assert err.value.reason is WireReason.BAD_VALUE


def test_error_detail_names_the_field_path():
    data = craft(plain(batch_body()), kind="rollouts",
                 edit=_body_edit(lambda b: b["groups"][0]["completions"][0].update(tokens=-3)))
    with pytest.raises(ProtocolError) as err:
        decode_message(data, now_ms=NOW)
    assert err.value.detail.startswith("body.groups[0].completions[0].tokens:")


def _env(signer: Signer, seq: int):
    return decode_message(encode_message(signer, caps_body(), seq=seq, ts=NOW), now_ms=NOW)


def test_replay_guard_window():
    guard = ReplayGuard(window=8)
    for seq in (100, 98, 103, 99, 96):  # reordered but all inside the window
        guard.check(_env(A, seq), now_ms=NOW)
    with pytest.raises(ProtocolError) as err:
        guard.check(_env(A, 98), now_ms=NOW)
    assert err.value.reason is WireReason.REPLAY
    with pytest.raises(ProtocolError) as err:
        guard.check(_env(A, 95), now_ms=NOW)  # 103 - 95 = 8: outside an 8-wide window
    assert err.value.reason is WireReason.SEQ_TOO_OLD
    guard.check(_env(B, 98), now_ms=NOW)  # windows are per sender
    guard.check(_env(A, 1000), now_ms=NOW)  # a big jump clears the window
    with pytest.raises(ProtocolError):
        guard.check(_env(A, 1000), now_ms=NOW)
    stats = guard.stats()
    assert (stats.senders, stats.accepted, stats.replays, stats.too_old) == (2, 7, 2, 1)


def test_replay_guard_is_bounded_and_counts_unsafe_evictions():
    guard = ReplayGuard(max_senders=2, max_age_ms=1000, max_future_ms=0)
    c = Signer(create_new_key_pair(hashlib.sha256(b"third").digest()))
    guard.check(_env(A, 1), now_ms=0)
    guard.check(_env(B, 1), now_ms=500)
    guard.check(_env(c, 1), now_ms=1200)  # evicts A, idle 1200 ms > 1000: safe
    guard.check(_env(A, 1), now_ms=1300)  # A forgotten: accepted again; evicts B (idle 800 ms): unsafe
    stats = guard.stats()
    assert (stats.senders, stats.evictions, stats.unsafe_evictions) == (2, 2, 1)
    assert guard.forget_stale(now_ms=2250) == 1 and guard.forget_stale(now_ms=2400) == 1
    assert guard.stats().senders == 0


def test_seq_counter_is_monotonic_and_restart_safe():
    first = SeqCounter()
    seqs = [first.next() for _ in range(1000)]
    assert seqs == list(range(seqs[0], seqs[0] + 1000))
    # A restart starts above everything sent before, given fewer than one message
    # per microsecond on average since the previous start (1000 here, then 2 ms).
    time.sleep(0.002)
    assert SeqCounter().next() > seqs[-1]
    assert SeqCounter(start=5).next() == 5


FRAME_CASES = [
    (b"", WireReason.MALFORMED),
    (b"\x00\x00\x00\x05abc", WireReason.MALFORMED),  # prefix longer than data
    ((10**7).to_bytes(4, "big") + b"x", WireReason.OVERSIZE),
    (b"\x00\x00\x00\x01\x90", WireReason.MALFORMED),  # payload is an array
    (b"\x00\x00\x00\x01\x80", WireReason.MISSING_FIELD),  # {} has no t
]


@pytest.mark.parametrize("data, reason", FRAME_CASES)
def test_frame_rejections(data, reason):
    with pytest.raises(ProtocolError) as err:
        decode_frame(data)
    assert err.value.reason is reason


def _frame(obj, **kw) -> bytes:
    return msgpack.packb(obj, **kw)


@pytest.mark.parametrize(
    "payload, reason",
    [
        (_frame({"t": "push"}), WireReason.UNKNOWN_KIND),
        (_frame({"t": 1}), WireReason.WRONG_TYPE),
        (_frame({"t": "error", "code": "busy", "detail": "x", "x": 1}), WireReason.EXTRA_FIELD),
        (_frame({"t": "error", "code": "nope", "detail": "x"}), WireReason.BAD_VALUE),
        (_frame({"code": "busy", "t": "error", "detail": "x"}), WireReason.NON_CANONICAL),
        (_frame({"t": "chunk", "key": b"\0" * 32, "offset": 5, "total": 6, "data": b"ab"}), WireReason.BAD_VALUE),
        (_frame({"t": "chunk", "key": b"\0" * 32, "offset": 0, "total": 6, "data": b""}), WireReason.BAD_VALUE),
        (_frame({"t": "req", "resource": "ckpt", "key": b"\0" * 32, "offset": 0, "query": {"a": 0.5}},
                use_single_float=True), WireReason.NON_CANONICAL),
    ],
)
def test_frame_payload_rejections(payload, reason):
    with pytest.raises(ProtocolError) as err:
        decode_frame_payload(payload)
    assert err.value.reason is reason


def test_frame_header_cap():
    with pytest.raises(ProtocolError) as err:
        frame_payload_length(b"\xff\xff\xff\xff")
    assert err.value.reason is WireReason.OVERSIZE


def test_every_reason_code_is_reachable():
    """Each WireReason appears in some test above (replay ones via ReplayGuard)."""
    covered = {reason for _, _, reason in CASES}
    covered |= {WireReason.SENDER_MISMATCH, WireReason.WRONG_TOPIC, WireReason.REPLAY, WireReason.SEQ_TOO_OLD}
    with pytest.raises(ProtocolError) as err:
        parse_topic("/swarm/x/bogus/1")
    covered.add(err.value.reason)
    assert covered == set(WireReason)


class _Env:
    """Just the two fields ReplayGuard reads, so the model test can run thousands of events."""

    def __init__(self, sender: bytes, seq: int) -> None:
        self.sender, self.seq = sender, seq


@settings(max_examples=200)
@given(
    window=st.integers(1, 70),
    events=st.lists(st.tuples(st.sampled_from([b"a", b"b"]), st.integers(0, 200)), max_size=120),
)
def test_replay_guard_matches_a_set_model(window, events):
    """Accept iff never accepted before and above (highest accepted - window)."""
    guard = ReplayGuard(window=window)
    seen: dict[bytes, set[int]] = {b"a": set(), b"b": set()}
    for sender, seq in events:
        accepted_model = seq not in seen[sender] and (not seen[sender] or seq > max(seen[sender]) - window)
        try:
            guard.check(_Env(sender, seq), now_ms=NOW)
            accepted = True
        except ProtocolError as exc:
            accepted = False
            expected = WireReason.REPLAY if seq in seen[sender] and seq > max(seen[sender]) - window else WireReason.SEQ_TOO_OLD
            assert exc.reason is expected
        assert accepted == accepted_model
        if accepted:
            seen[sender].add(seq)
