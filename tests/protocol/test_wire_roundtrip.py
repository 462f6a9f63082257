"""Round trips of every body kind and frame type, canonical bytes, size caps."""

from __future__ import annotations

import hashlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wire_strategies import (
    BODIES,
    FRAMES,
    SIGNERS,
    U64,
    capabilities,
    claim,
    dispute,
    rollout_announce,
    rollout_batch,
)

from protocol.errors import ProtocolError
from protocol.wire import (
    MAX_CHUNK_BYTES,
    MAX_MESSAGE_BYTES,
    SIGNING_DOMAIN,
    BlobChunk,
    Capabilities,
    Claim,
    DisputeNotice,
    Kind,
    Rollout,
    RolloutAnnounce,
    RolloutBatch,
    RolloutGroup,
    WireReason,
    decode_frame,
    decode_message,
    describe,
    encode_frame,
    encode_message,
    message_id,
)

NOW = 1_790_000_000_000


@pytest.mark.parametrize(
    "strategy, kind",
    [
        (capabilities, Kind.CAPS),
        (rollout_batch, Kind.ROLLOUTS),
        (rollout_announce, Kind.ROLLOUT_ANNOUNCE),
        (claim, Kind.CLAIM),
        (dispute, Kind.DISPUTE),
    ],
    ids=lambda v: v.value if isinstance(v, Kind) else "",
)
def test_every_kind_round_trips(strategy, kind):
    @settings(max_examples=40)
    @given(body=strategy, signer=st.sampled_from(SIGNERS), seq=U64, ts=st.integers(0, 2**64 - 1))
    def check(body, signer, seq, ts):
        data = encode_message(signer, body, seq=seq, ts=ts)
        assert len(data) <= MAX_MESSAGE_BYTES[kind]
        env = decode_message(data, now_ms=ts)
        assert (env.v, env.kind, env.sender, env.seq, env.ts) == (1, kind, signer.peer_id, seq, ts)
        assert env.body == body
        assert env.body.digest() == body.digest()
        # Deterministic (Ed25519 is), so the bytes are a pure function of the content.
        assert encode_message(signer, env.body, seq=seq, ts=ts) == data

    check()


@settings(max_examples=60)
@given(frame=FRAMES)
def test_frames_round_trip(frame):
    data = encode_frame(frame)
    assert int.from_bytes(data[:4], "big") == len(data) - 4
    assert decode_frame(data) == frame
    assert encode_frame(decode_frame(data)) == data


def test_signed_bytes_are_domain_plus_unsigned_map():
    """The exact rule of docs/protocol.md, checked against an independent re-derivation."""
    signer = SIGNERS[0]
    body = DisputeNotice(
        claim_digest=b"\x11" * 32, accused=SIGNERS[1].peer_id, game_id=7, chain_id=1337, tx_hash=b"", reason="x"
    )
    data = encode_message(signer, body, seq=5, ts=NOW)
    fields = msgpack.unpackb(data)
    assert list(fields) == ["v", "kind", "from", "seq", "ts", "body", "sig"]
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    signed = SIGNING_DOMAIN + msgpack.packb(unsigned)
    from nacl.signing import VerifyKey

    VerifyKey(signer.peer_id[6:]).verify(signed, fields["sig"])  # raises if wrong


def test_body_digest_rule():
    body = RolloutAnnounce(round=3, batch_id=b"\x01" * 32, tasks=("arith",), groups=2, size=900)
    expected = hashlib.sha256(b"swarm-announce/1\0" + msgpack.packb(msgpack.unpackb(body.encode()))).digest()
    assert body.digest() == expected
    assert len(body.digest()) == 32


def test_construction_normalizes_friendly_forms():
    built = Capabilities(
        device_kind="cpu", device_name="", memory_bytes=1, throughput=5, model="", software="",
        chain_address=b"", listen_addrs=["/ip4/127.0.0.1/tcp/4001"], specialties=[], rollout_mode="announce",
        shards=[1, 2],
    )
    assert built.throughput == 5.0 and type(built.throughput) is float
    assert built.listen_addrs == ("/ip4/127.0.0.1/tcp/4001",) and built.shards == (1, 2)
    group = RolloutGroup(task="t", params={"b": [1, 2], "a": 1}, seed=1, completions=[Rollout("x", 1)])
    assert list(group.params) == ["a", "b"] and group.params["b"] == (1, 2)


def test_describe_is_short_for_big_batches():
    group = RolloutGroup(task="arith", params={}, seed=1, completions=[Rollout("y" * 3000, 900)] * 16)
    batch = RolloutBatch(round=1, checkpoint=b"\0" * 32, groups=[group] * 4)
    env = decode_message(encode_message(SIGNERS[0], batch, seq=1, ts=NOW), now_ms=NOW)
    assert len(describe(env)) < 200 and len(repr(env)) < 200 and len(repr(batch)) < 200
    assert "completions=64" in describe(env)


def _max_text(n: int) -> str:
    return "é" * (n // 2)  # 2 UTF-8 bytes per char: exactly at the byte limit


def test_largest_small_bodies_fit_their_caps():
    """Every schema-valid caps/announce/claim/dispute body fits its kind's cap."""
    caps = Capabilities(
        device_kind="cuda", device_name=_max_text(128), memory_bytes=2**64 - 1, throughput=1e300,
        model=_max_text(128), software=_max_text(64), chain_address=b"\xff" * 20,
        listen_addrs=[_max_text(256)] * 16, specialties=[_max_text(62) + chr(0x41 + i) for i in range(32)],
        rollout_mode="broadcast", shards=list(range(768, 1024)),
    )
    announce = RolloutAnnounce(
        round=2**64 - 1, batch_id=b"\xff" * 32, tasks=sorted(_max_text(62) + chr(0x41 + i) for i in range(16)),
        groups=256, size=MAX_MESSAGE_BYTES[Kind.ROLLOUTS],
    )
    big = "\U0001f600" * 16  # 64 bytes
    claim_ = Claim(
        round=2**64 - 1, ckpt_before=b"\xff" * 32, ckpt_after=b"\xff" * 32, batch_digest=b"\xff" * 32,
        hparams={f"{i:02d}" + "k" * 30: [big] * 4 for i in range(32)}, trace_root=b"\xff" * 32,
        op_count=2**64 - 1, local_samples=2**32 - 1, external_samples=2**32 - 1, steps=2**64 - 1,
    )
    notice = DisputeNotice(
        claim_digest=b"\xff" * 32, accused=SIGNERS[0].peer_id, game_id=2**64 - 1, chain_id=2**64 - 1,
        tx_hash=b"\xff" * 32, reason=_max_text(128),
    )
    for body in (caps, announce, claim_, notice):
        data = encode_message(SIGNERS[0], body, seq=2**64 - 1, ts=2**64 - 1)
        assert len(data) <= MAX_MESSAGE_BYTES[body.KIND]
        assert decode_message(data, now_ms=2**64 - 1).body == body


def _batch_of_size(target: int) -> RolloutBatch:
    # 64 groups x 2 completions; text length tuned to land near `target` bytes.
    per_text = max(1, target // 128 - 40)
    group = RolloutGroup(task="arith", params={"n": 3}, seed=1, completions=[Rollout("a" * per_text, 1)] * 2)
    return RolloutBatch(round=1, checkpoint=b"\0" * 32, groups=[group] * 64)


def test_rollout_cap_is_enforced_on_encode_and_decode():
    cap = MAX_MESSAGE_BYTES[Kind.ROLLOUTS]
    ok = encode_message(SIGNERS[0], _batch_of_size(cap - 4096), seq=1, ts=NOW)
    assert 200_000 < len(ok) <= cap
    decode_message(ok, now_ms=NOW)
    with pytest.raises(ProtocolError) as err:
        encode_message(SIGNERS[0], _batch_of_size(cap + 4096), seq=1, ts=NOW)
    assert err.value.reason is WireReason.OVERSIZE
    assert all(c < 1024 * 1024 for c in MAX_MESSAGE_BYTES.values())


def test_frame_chunk_cap():
    full = BlobChunk(key=b"\0" * 32, offset=0, total=MAX_CHUNK_BYTES, data=b"\0" * MAX_CHUNK_BYTES)
    assert decode_frame(encode_frame(full)) == full
    with pytest.raises(ProtocolError) as err:
        encode_frame(BlobChunk(key=b"\0" * 32, offset=0, total=MAX_CHUNK_BYTES + 1, data=b"\0" * (MAX_CHUNK_BYTES + 1)))
    assert err.value.reason is WireReason.BAD_VALUE


@settings(max_examples=30)
@given(body=BODIES)
def test_message_id_is_unique_per_content(body):
    a = encode_message(SIGNERS[0], body, seq=1, ts=NOW)
    b = encode_message(SIGNERS[0], body, seq=2, ts=NOW)
    assert message_id(a) != message_id(b) and message_id(a) == hashlib.sha256(a).digest()


# Known-answer vector, also printed in docs/protocol.md for other implementations:
# Ed25519 seed 00 01 .. 1f, an announcement, seq 1, ts 1790000000000.
VECTOR_HEX = (
    "87a17601a46b696e64a8616e6e6f756e6365a466726f6dc42600240801122003a107bff3ce10be1d70dd18e74bc09967e4d63"
    "09ba50d5f1ddc8664125531b8a373657101a27473cf000001a0c4506c00a4626f647985a5726f756e6403a862617463685f69"
    "64c4204bb24efc9641afc5ded1ca77eabb6e2fcf062d2112ccd61bd8bd6acd89180baea57461736b7391a56172697468a667"
    "726f75707302a473697a65cd0384a3736967c4401418681d1abee2bc26c9d64f574fbe598389691037af6a9cb17659c77219"
    "91eab1e040d883f2ab0f2c63dcbf807437680b6454b719b1646007ee4e7ee4849205"
)


def test_known_answer_vector():
    from libp2p.crypto.ed25519 import create_new_key_pair

    from protocol.wire import Signer

    signer = Signer(create_new_key_pair(bytes(range(32))))
    body = RolloutAnnounce(round=3, batch_id=hashlib.sha256(b"batch").digest(), tasks=("arith",), groups=2, size=900)
    data = encode_message(signer, body, seq=1, ts=1_790_000_000_000)
    assert data.hex() == VECTOR_HEX
    assert decode_message(bytes.fromhex(VECTOR_HEX), now_ms=1_790_000_000_000).body == body
    assert body.digest().hex() == "f624c7ff840c889c5016ac4c3b76ebdfc994d7c20572ac6365eae381578bb287"
