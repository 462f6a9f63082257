"""Replay protection: per-sender sequence windows, and a sequence source.

Sequence numbers are per identity (one SeqCounter per running peer, shared by
all kinds).  GossipSub may reorder messages, so a receiver accepts any unseen
seq within `window` of the highest it has accepted from that sender, and
rejects duplicates (REPLAY) and anything older (SEQ_TOO_OLD).
"""

from __future__ import annotations

import collections
import dataclasses
import time

from protocol.errors import ProtocolError
from protocol.wire.envelope import DEFAULT_MAX_AGE_MS, DEFAULT_MAX_FUTURE_MS, Envelope
from protocol.wire.reasons import WireReason


class SeqCounter:
    """Monotonic sequence numbers that survive restarts without storage.

    Starts at the wall clock in microseconds and counts up by one, so a restarted
    peer starts above everything it sent before as long as it averaged less than
    one message per microsecond; seqs stay dense, so reordering fits the window.
    """

    def __init__(self, start: int | None = None) -> None:
        self._next = time.time_ns() // 1000 if start is None else start

    def next(self) -> int:
        seq = self._next
        self._next += 1
        return seq

    def peek(self) -> int:
        return self._next


@dataclasses.dataclass(frozen=True)
class ReplayStats:
    senders: int  # senders tracked now
    accepted: int
    replays: int
    too_old: int
    evictions: int  # senders forgotten to stay within max_senders
    unsafe_evictions: int  # ... whose messages could still be fresh (replay window reopened)


@dataclasses.dataclass(slots=True)
class _Window:
    highest: int
    seen: int  # bit i set: seq (highest - i) accepted
    last_ms: int  # local time of the last acceptance


class ReplayGuard:
    """Per-sender replay windows with LRU over at most `max_senders` senders.

    Call `check` only on envelopes whose signature verified (decode_message does
    that), or a forger could poison a victim's window.  Forgetting a sender is
    harmless once everything it sent is stale (older than max_age_ms +
    max_future_ms); an eviction earlier than that is counted as unsafe because
    a replay of that sender's still-fresh messages would then pass.
    """

    def __init__(
        self,
        *,
        window: int = 1024,
        max_senders: int = 16384,
        max_age_ms: int = DEFAULT_MAX_AGE_MS,
        max_future_ms: int = DEFAULT_MAX_FUTURE_MS,
    ) -> None:
        if window < 1 or max_senders < 1:
            raise ValueError("window and max_senders must be positive")
        self.window = window
        self._mask = (1 << window) - 1
        self.max_senders = max_senders
        self._forget_after_ms = max_age_ms + max_future_ms
        self._senders: collections.OrderedDict[bytes, _Window] = collections.OrderedDict()
        self._accepted = self._replays = self._too_old = self._evictions = self._unsafe = 0

    def check(self, envelope: Envelope, *, now_ms: int | None = None) -> None:
        """Accept and record `envelope`'s (sender, seq), or raise REPLAY / SEQ_TOO_OLD."""
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        seq = envelope.seq
        state = self._senders.get(envelope.sender)
        if state is None:
            self._make_room(now)
            self._senders[envelope.sender] = _Window(highest=seq, seen=1, last_ms=now)
        elif seq > state.highest:
            shift = seq - state.highest
            state.seen = ((state.seen << shift) | 1) & self._mask if shift < self.window else 1
            state.highest = seq
            state.last_ms = now
            self._senders.move_to_end(envelope.sender)
        else:
            back = state.highest - seq
            if back >= self.window:
                self._too_old += 1
                raise ProtocolError(
                    WireReason.SEQ_TOO_OLD, f"seq {seq} is {back} behind the highest seen, window {self.window}"
                )
            if state.seen >> back & 1:
                self._replays += 1
                raise ProtocolError(WireReason.REPLAY, f"seq {seq} already seen from this sender")
            state.seen |= 1 << back
            state.last_ms = now
            self._senders.move_to_end(envelope.sender)
        self._accepted += 1

    def _make_room(self, now: int) -> None:
        while len(self._senders) >= self.max_senders:
            _, oldest = self._senders.popitem(last=False)
            self._evictions += 1
            if now - oldest.last_ms <= self._forget_after_ms:
                self._unsafe += 1

    def forget_stale(self, now_ms: int | None = None) -> int:
        """Drop senders idle longer than max_age + max_future (safe); returns how many."""
        now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
        dropped = 0
        while self._senders:
            sender, oldest = next(iter(self._senders.items()))
            if now - oldest.last_ms <= self._forget_after_ms:
                break
            del self._senders[sender]
            dropped += 1
        return dropped

    def stats(self) -> ReplayStats:
        return ReplayStats(
            senders=len(self._senders),
            accepted=self._accepted,
            replays=self._replays,
            too_old=self._too_old,
            evictions=self._evictions,
            unsafe_evictions=self._unsafe,
        )
