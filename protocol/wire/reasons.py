"""Reason codes for every way a wire message or frame can be rejected.

The values are the stable strings other implementations and the peer's
rejection counters use; docs/protocol.md lists when each one applies.
"""

from __future__ import annotations

import enum


class WireReason(enum.Enum):
    MALFORMED = "malformed"  # not msgpack, truncated, trailing bytes, ext types, not a map
    OVERSIZE = "oversize"  # raw length over the total cap or the kind's cap
    UNKNOWN_KIND = "unknown_kind"  # envelope kind or frame type not in this version
    BAD_VERSION = "bad_version"  # envelope v is not 1
    MISSING_FIELD = "missing_field"
    EXTRA_FIELD = "extra_field"
    WRONG_TYPE = "wrong_type"  # e.g. float where an int is required, str where bytes
    BAD_VALUE = "bad_value"  # right type, out of range / wrong length / not allowed
    NON_CANONICAL = "non_canonical"  # decodes, but is not the one canonical encoding
    BAD_SENDER = "bad_sender"  # `from` is not an Ed25519 identity-multihash peer id
    BAD_SIGNATURE = "bad_signature"
    SENDER_MISMATCH = "sender_mismatch"  # envelope sender differs from the transport's
    WRONG_TOPIC = "wrong_topic"  # kind does not belong on the topic / unparsable topic
    STALE = "stale"  # ts older than max_age_ms
    FUTURE = "future"  # ts further than max_future_ms ahead
    REPLAY = "replay"  # (sender, seq) already accepted
    SEQ_TOO_OLD = "seq_too_old"  # seq below the sender's replay window
