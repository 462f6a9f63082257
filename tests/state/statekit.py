"""Real checkpoints and claims for the state tests, and the database fault injector."""

from __future__ import annotations

import enum
import hashlib
import random
import sqlite3
from pathlib import Path

import torch

from protocol.wire import Claim
from repops.checkpoint import checkpoint_hash
from swarmclient.state.schema import LATEST


def tensors_at(step: int, size: int = 32) -> dict[str, torch.Tensor]:
    """A deterministic 'model + optimizer' state after `step` updates."""
    base = torch.arange(size * size, dtype=torch.float32).reshape(size, size) / 7.0
    return {
        "layer.weight": base + step,
        "layer.weight.exp_avg": base * 0.5 - step,
        "step": torch.tensor(step, dtype=torch.int64),
    }


def claim_for(r: int, before: bytes, after: bytes, *, local: int = 8, external: int = 4) -> Claim:
    return Claim(
        round=r,
        ckpt_before=before,
        ckpt_after=after,
        batch_digest=hashlib.sha256(b"batch %d" % r).digest(),
        hparams={"lr": 0.001, "epochs": 1},
        trace_root=bytes(32),
        op_count=0,
        local_samples=local,
        external_samples=external,
        steps=1,
    )


def step_hash(step: int) -> bytes:
    return checkpoint_hash(tensors_at(step))


class Fault(enum.Enum):
    """Ways a state database file gets damaged, and the SwarmError reason each must give."""

    TRUNCATE_MID_PAGE = "state-truncated"  # cut inside a page (a partial copy or write)
    TRUNCATE_PAGES = "state-truncated"  # whole pages missing at the end
    EMPTY = "state-truncated"  # 0 bytes
    HEADER_ONLY = "state-truncated"  # cut inside the 100-byte header
    FLIP_BYTES = "state-corrupt"  # a page in the middle overwritten with random bytes
    NOT_SQLITE = "state-not-sqlite"  # some other file under the name
    FUTURE_SCHEMA = "state-schema-newer"  # written by a newer swarm
    FOREIGN_SCHEMA = "state-schema-unknown"  # an SQLite file that is not ours

    def __new__(cls, reason: str):
        # Several faults share a reason: give each member its own identity.
        obj = object.__new__(cls)
        obj._value_ = (len(cls.__members__), reason)
        return obj

    @property
    def reason(self) -> str:
        return self.value[1]


def page_size(path: Path) -> int:
    raw = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if raw == 1 else raw


def inject(fault: Fault, path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    if fault is Fault.TRUNCATE_MID_PAGE:
        ps = page_size(path)
        path.write_bytes(data[: (len(data) // ps // 2) * ps + rng.randrange(1, ps)])
    elif fault is Fault.TRUNCATE_PAGES:
        ps = page_size(path)
        path.write_bytes(data[: max(1, len(data) // ps // 2) * ps])
    elif fault is Fault.EMPTY:
        path.write_bytes(b"")
    elif fault is Fault.HEADER_ONLY:
        path.write_bytes(data[: rng.randrange(20, 100)])
    elif fault is Fault.FLIP_BYTES:
        ps = page_size(path)
        pages = len(data) // ps
        assert pages >= 4, "the database is too small to damage a middle page"
        page = rng.randrange(1, pages - 1)  # never page 0 (the header): a damaged b-tree page
        noise = bytes(rng.randrange(256) for _ in range(ps))
        path.write_bytes(data[: page * ps] + noise + data[(page + 1) * ps :])
    elif fault is Fault.NOT_SQLITE:
        path.write_bytes(b"[swarm]\nthis is a config file, not a database\n" * 40)
    elif fault is Fault.FUTURE_SCHEMA:
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA user_version = {LATEST + 7}")
        conn.close()
    elif fault is Fault.FOREIGN_SCHEMA:
        path.unlink()
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE browser_history (url TEXT)")
        conn.commit()
        conn.close()
    else:  # pragma: no cover - every member is handled above
        raise AssertionError(fault)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
