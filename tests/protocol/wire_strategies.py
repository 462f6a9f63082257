"""Hypothesis strategies that generate valid wire bodies and frames, plus keys."""

from __future__ import annotations

import hashlib

from hypothesis import strategies as st
from libp2p.crypto.ed25519 import create_new_key_pair

from protocol.wire import (
    BlobChunk,
    BlobRequest,
    Capabilities,
    Claim,
    DisputeNotice,
    Rollout,
    RolloutAnnounce,
    RolloutBatch,
    RolloutGroup,
    RpcError,
    RpcErrorCode,
    Signer,
)

U64 = st.integers(0, 2**64 - 1)
U32 = st.integers(0, 2**32 - 1)
HASH = st.binary(min_size=32, max_size=32)
# Any Unicode scalar value (no lone surrogates: they are not text and cannot be UTF-8).
CHARS = st.characters(blacklist_categories=("Cs",))


def text(max_bytes: int, min_chars: int = 0) -> st.SearchStrategy[str]:
    """Unicode text within a UTF-8 byte budget (a char is at most 4 bytes)."""
    return st.text(CHARS, min_size=min_chars, max_size=max_bytes // 4)


def key_for(n: int):
    return create_new_key_pair(hashlib.sha256(b"wire-test-key" + bytes([n])).digest())


SIGNERS = [Signer(key_for(n)) for n in range(3)]
PEER_IDS = st.sampled_from([s.peer_id for s in SIGNERS])

SCALAR = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text(64),
)
PARAM_VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=4))
PARAMS = st.dictionaries(text(32, min_chars=1), PARAM_VALUE, max_size=6)
TASK = text(64, min_chars=1)

capabilities = st.builds(
    Capabilities,
    device_kind=st.sampled_from(["cpu", "cuda", "mps"]),
    device_name=text(128),
    memory_bytes=U64,
    throughput=st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
    model=text(128),
    software=text(64),
    chain_address=st.sampled_from([b"", bytes(range(20)), b"\xff" * 20]),
    listen_addrs=st.lists(text(256, min_chars=1), max_size=4),
    specialties=st.lists(TASK, max_size=4),
    rollout_mode=st.sampled_from(["broadcast", "announce"]),
    shards=st.lists(st.integers(0, 1023), max_size=8, unique=True).map(sorted),
)

rollout = st.builds(Rollout, text=text(400), tokens=U32)
rollout_group = st.builds(
    RolloutGroup, task=TASK, params=PARAMS, seed=U64, completions=st.lists(rollout, min_size=1, max_size=4)
)
rollout_batch = st.builds(RolloutBatch, round=U64, checkpoint=HASH, groups=st.lists(rollout_group, min_size=1, max_size=3))
rollout_announce = st.builds(
    RolloutAnnounce,
    round=U64,
    batch_id=HASH,
    tasks=st.lists(TASK, min_size=1, max_size=16, unique=True).map(sorted),
    groups=st.integers(1, 256),
    size=st.integers(1, 384 * 1024),
)
HPARAM_VALUE = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    text(64),
    st.lists(st.integers(0, 100), max_size=4),
)
claim = st.builds(
    Claim,
    round=U64,
    ckpt_before=HASH,
    ckpt_after=HASH,
    batch_digest=HASH,
    hparams=st.dictionaries(text(32, min_chars=1), HPARAM_VALUE, max_size=8),
    trace_root=HASH,
    op_count=U64,
    local_samples=U32,
    external_samples=U32,
    steps=st.integers(1, 2**64 - 1),
)
dispute = st.builds(
    DisputeNotice,
    claim_digest=HASH,
    accused=PEER_IDS,
    game_id=U64,
    chain_id=U64,
    tx_hash=st.one_of(st.just(b""), HASH),
    reason=text(128),
)
BODIES = st.one_of(capabilities, rollout_batch, rollout_announce, claim, dispute)


@st.composite
def blob_chunk(draw):
    if draw(st.integers(0, 9)) == 0:  # the one legal empty chunk: an empty blob
        return BlobChunk(key=draw(HASH), offset=0, total=0, data=b"")
    data = draw(st.binary(min_size=1, max_size=2048))
    offset = draw(st.integers(0, 2**40))
    total = offset + len(data) + draw(st.integers(0, 2**20))
    return BlobChunk(key=draw(HASH), offset=offset, total=total, data=data)


blob_request = st.builds(
    BlobRequest,
    resource=st.sampled_from(["ckpt", "batch", "trace"]),
    key=HASH,
    offset=U64,
    query=st.dictionaries(text(32, min_chars=1), SCALAR, max_size=4),
)
rpc_error = st.builds(RpcError, code=st.sampled_from(list(RpcErrorCode)), detail=text(256))
FRAMES = st.one_of(blob_request, blob_chunk(), rpc_error)

# Arbitrary msgpack-representable values, for structured fuzzing.
MSGPACK_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(), text(16), st.binary(max_size=40)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(text(8), st.binary(max_size=4)), inner, max_size=4)),
    max_leaves=12,
)
