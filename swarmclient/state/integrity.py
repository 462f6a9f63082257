"""Is this file a whole, readable state database? Checked BEFORE anything writes to it.

The file header is read by hand (the SQLite file format, section 1.3) because sqlite3 opens
any file without complaint and only fails, or worse, answers from a half file, at the first
query. Then SQLite's own `PRAGMA quick_check` (or the slower `integrity_check`) looks at every
page. Every failure is a SwarmError whose message names the recovery path; nothing here
repairs, moves or resets anything (that is `swarm state recover`, an explicit command).
"""

from __future__ import annotations

import enum
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from swarmclient.errors import SwarmError

MAGIC = b"SQLite format 3\x00"
HEADER_BYTES = 100


class StateProblem(enum.Enum):
    """Why a state database cannot be used; the value is SwarmError.reason."""

    NOT_SQLITE = "state-not-sqlite"
    TRUNCATED = "state-truncated"
    CORRUPT = "state-corrupt"
    SCHEMA_NEWER = "state-schema-newer"
    SCHEMA_UNKNOWN = "state-schema-unknown"
    UNREADABLE = "state-unreadable"


def recovery_hint(path: Path) -> str:
    return (
        f"nothing was changed; `swarm state recover` moves it aside to {path.name}.corrupt-<UTC time> "
        "and rebuilds rounds and claims from the checkpoint store (claims are then reconciled "
        "with the chain; peers are rediscovered)"
    )


def problem(kind: StateProblem, path: Path, what: str) -> SwarmError:
    hint = recovery_hint(path)
    if kind is StateProblem.SCHEMA_NEWER:
        hint = "nothing was changed; upgrade swarm to read it, or " + hint.removeprefix("nothing was changed; ")
    return SwarmError(kind.value, f"{path}: {what}; {hint}")


@dataclass(frozen=True)
class Header:
    page_size: int
    pages_in_header: int | None  # None where the header's count is stale (SQLite then uses the size)
    file_bytes: int
    wal: bool


def read_header(path: Path) -> Header:
    """Check the file's 100-byte header and its length against the page size and count."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(HEADER_BYTES)
    except OSError as exc:
        raise problem(StateProblem.UNREADABLE, path, f"cannot read: {exc.strerror}") from None
    if size == 0:
        # We create databases under a temporary name and rename them whole, so an empty
        # file was never one of ours, or lost everything: either way not silently "new".
        raise problem(StateProblem.TRUNCATED, path, "the file is empty (0 bytes)")
    if len(head) < HEADER_BYTES or not head.startswith(MAGIC):
        if head.startswith(MAGIC[: len(head)]) and len(head) < HEADER_BYTES:
            raise problem(StateProblem.TRUNCATED, path, f"only {size} bytes: cut off inside the header")
        raise problem(StateProblem.NOT_SQLITE, path, "not an SQLite database (no 'SQLite format 3' header)")
    raw = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw == 1 else raw
    if page_size < 512 or page_size & (page_size - 1):
        raise problem(StateProblem.CORRUPT, path, f"invalid page size {raw} in the header")
    change_counter = head[24:28]
    pages = int.from_bytes(head[28:32], "big")
    header_count_valid = head[92:96] == change_counter and pages > 0
    if _has_wal(path):
        # A crash during a WAL checkpoint can leave the file shorter than its (already copied)
        # header says; SQLite finishes the checkpoint from the WAL, and quick_check judges the
        # result. The size rules below only hold for a file whose WAL is empty or gone.
        return Header(page_size, pages if header_count_valid else None, size, head[18] == 2)
    if size % page_size:
        raise problem(StateProblem.TRUNCATED, path, f"{size} bytes is not a whole number of {page_size}-byte pages")
    if header_count_valid and size < pages * page_size:
        raise problem(
            StateProblem.TRUNCATED, path, f"the header counts {pages} pages but the file holds {size // page_size}"
        )
    return Header(page_size, pages if header_count_valid else None, size, head[18] == 2)


def _has_wal(path: Path) -> bool:
    try:
        return Path(f"{path}-wal").stat().st_size > 0
    except OSError:
        return False


def run_check(conn: sqlite3.Connection, path: Path, *, full: bool = False) -> None:
    """PRAGMA quick_check (or integrity_check): SwarmError(state-corrupt) unless 'ok'."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}(20)")]
    except sqlite3.DatabaseError as exc:
        raise problem(StateProblem.CORRUPT, path, f"{pragma} failed: {exc}") from None
    if rows != ["ok"]:
        shown = "; ".join(str(r) for r in rows[:3]) + (f" (+{len(rows) - 3} more)" if len(rows) > 3 else "")
        raise problem(StateProblem.CORRUPT, path, f"{pragma}: {shown}")


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable (POSIX: the directory entry is data too)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # platforms without directory fds (Windows) make renames durable themselves
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["Header", "StateProblem", "fsync_dir", "problem", "read_header", "recovery_hint", "run_check"]
