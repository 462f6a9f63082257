"""The runtime's durable state: one lock per $SWARM_HOME, the state database, the checkpoint
store and the round journal (swarmclient.state), opened once at start.

    durable = DurableState.open(home)          # SwarmError: home in use, corrupt DB, lost checkpoint
    point = durable.point                      # where to resume (verified checkpoint + tensors)
    ...
    durable.close()

Opening never repairs anything: a damaged database or checkpoint stops the peer with the
state package's message, which names `swarm state check` / `swarm state recover`.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.state import CheckpointStore, PeerRow, ResumePoint, RoundJournal, StateDB, resume_point

LOCK_NAME = "peer.lock"
GC_EVERY_ROUNDS = 8
# Claims never sent to a chain keep their checkpoints this many rounds (CheckpointStore.gc):
# a peer without a chain must not fill its disk (~400 KB per round with the tiny profile).
PREPARED_WINDOW = 512
PEERS_EVERY_S = 10.0


class HomeLock:
    """An exclusive flock on $SWARM_HOME/peer.lock: two peers on one home would interleave
    rounds in one database and one checkpoint chain. Released by the kernel when the process
    dies, so a SIGKILLed peer never leaves a stale lock."""

    def __init__(self, home: Home) -> None:
        self.path = home.root / LOCK_NAME
        home.root.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(self._fd)
            raise SwarmError(
                "home-in-use", f"another peer (pid {holder}) is running on {home.root}; one peer per $SWARM_HOME"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # closing drops the flock
            self._fd = -1


@dataclass
class DurableState:
    home: Home
    lock: HomeLock
    db: StateDB
    store: CheckpointStore
    journal: RoundJournal
    point: ResumePoint
    _peers_at: float = 0.0

    @classmethod
    def open(cls, home: Home) -> "DurableState":
        lock = HomeLock(home)
        try:
            db = StateDB.open(home.database)
        except BaseException:
            lock.release()
            raise
        try:
            store = CheckpointStore(home.checkpoints)
            point = resume_point(db, store)
        except BaseException:
            db.close()
            lock.release()
            raise
        return cls(home, lock, db, store, RoundJournal(db, store), point)

    def close(self) -> None:
        self.db.close()
        self.lock.release()

    # -- settings that must not change under a checkpoint --------------------------------

    def pinned_profile(self, wanted: str) -> str:
        """The training profile this home's checkpoints were made with. A home with history
        keeps its profile (a different model cannot load the checkpoint); a new one records
        `wanted`."""
        stored = self.db.get("runtime.profile")
        if stored is None or (self.point.checkpoint is None and not self.db.rounds(limit=1)):
            self.db.set("runtime.profile", wanted)
            return wanted
        return str(stored)

    # -- peers ---------------------------------------------------------------------------

    def peers_due(self, now: float) -> bool:
        return now - self._peers_at >= PEERS_EVERY_S

    def record_peers(self, capabilities: dict[str, Any], now: float) -> None:
        """Peers that advertised capabilities, into the peers table (blocking: run it in a
        thread). Only adverts: a connection alone says nothing worth keeping."""
        self._peers_at = now
        rows = []
        for peer_id, cap in capabilities.items():
            caps = getattr(cap, "capabilities", None)
            addrs = tuple(getattr(caps, "listen_addrs", ()) or ())
            seen = getattr(cap, "last_seen_ms", 0) / 1000.0
            rows.append(PeerRow(peer_id, addrs, caps or {}, first_seen=seen, last_seen=seen))
        if rows:
            self.db.upsert_peers(rows)

    def gc_due(self, rounds_done: int) -> bool:
        return rounds_done > 0 and rounds_done % GC_EVERY_ROUNDS == 0

    def gc(self) -> Any:
        """Delete checkpoints nothing needs any more (blocking: run it in a thread)."""
        return self.store.gc(self.db, prepared_window=PREPARED_WINDOW)


__all__ = ["DurableState", "HomeLock", "LOCK_NAME", "PREPARED_WINDOW"]
