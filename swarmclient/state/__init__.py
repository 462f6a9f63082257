"""A peer's durable state: the SQLite (WAL) database, the content-addressed checkpoint store,
the resume point after a crash and the explicit recovery (docs/architecture.md, "Durable state").

    db = StateDB.open(home.database)                 # checks; SwarmError with a recovery path
    store = CheckpointStore(home.checkpoints)
    point = resume_point(db, store)                  # next round, verified checkpoint, claims, games
    journal = RoundJournal(db, store)                # the round loop's writes, in crash-safe order
"""

from swarmclient.state.checkpoints import CheckpointStore, GcReport, Manifest
from swarmclient.state.db import StateDB
from swarmclient.state.integrity import StateProblem, recovery_hint
from swarmclient.state.journal import RoundJournal, result_of
from swarmclient.state.records import (
    CLAIM_TRANSITIONS,
    ClaimRow,
    ClaimStatus,
    GameRow,
    GameStatus,
    PeerRow,
    RoundPhase,
    RoundResult,
    RoundRow,
)
from swarmclient.state.recover import RecoveryReport, recover
from swarmclient.state.resume import ResumePoint, resume_point
from swarmclient.state.schema import LATEST as SCHEMA_VERSION

__all__ = [
    "CLAIM_TRANSITIONS",
    "SCHEMA_VERSION",
    "CheckpointStore",
    "ClaimRow",
    "ClaimStatus",
    "GameRow",
    "GameStatus",
    "GcReport",
    "Manifest",
    "PeerRow",
    "RecoveryReport",
    "ResumePoint",
    "RoundJournal",
    "RoundPhase",
    "RoundResult",
    "RoundRow",
    "StateDB",
    "StateProblem",
    "recover",
    "recovery_hint",
    "result_of",
    "resume_point",
]
