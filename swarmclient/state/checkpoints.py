"""Content-addressed checkpoints (Home.checkpoints) over repops.checkpoint.

A checkpoint is `<hash hex>.safetensors`, its hash repops.checkpoint.checkpoint_hash (the
Merkle root over its named tensors), re-checked on every load, so a flipped bit or a swapped
file is an error, never silently trained on. Next to it a small manifest, `<hash hex>.json`,
says which round produced it, from which checkpoint, and the round's claim: it is what
`swarm state recover` rebuilds the rounds and claims tables from when the database is lost.

Writes are atomic and durable: temporary file, fsync, rename, fsync of the directory. The
round loop saves the checkpoint BEFORE it records the round as done, so a database row never
names a checkpoint that is not on disk (a crash in between leaves an unreferenced file that
`gc` removes).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from swarmclient.errors import SwarmError
from swarmclient.state.integrity import fsync_dir
from swarmclient.state.records import ClaimStatus, RoundPhase

MANIFEST_FORMAT = "swarm-ckpt-manifest/1"
# repops.checkpoint.SUFFIX (a test checks they agree), here so that opening and listing a store
# does not import torch: a network-only peer opens its state too and must start fast.
SUFFIX = ".safetensors"
MANIFEST_SUFFIX = ".json"
TMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class Manifest:
    ckpt_hash: bytes
    round: int | None  # the round whose update produced it; None for a warm start or a fetched one
    ckpt_before: bytes | None
    claim: bytes | None  # the round's protocol.wire.Claim, canonical encoding
    saved_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "hash": self.ckpt_hash.hex(),
            "round": self.round,
            "ckpt_before": self.ckpt_before.hex() if self.ckpt_before else None,
            "claim": self.claim.hex() if self.claim else None,
            "saved_at": self.saved_at,
        }

    @classmethod
    def from_json(cls, data: Any, path: Path) -> "Manifest":
        try:
            if data["format"] != MANIFEST_FORMAT:
                raise ValueError(f"format {data['format']!r}")
            r = data["round"]
            if r is not None and (not isinstance(r, int) or r < 0):
                raise ValueError(f"round {r!r}")
            return cls(
                bytes.fromhex(data["hash"]),
                r,
                bytes.fromhex(data["ckpt_before"]) if data["ckpt_before"] else None,
                bytes.fromhex(data["claim"]) if data["claim"] else None,
                float(data["saved_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SwarmError("checkpoint-manifest", f"{path}: not a checkpoint manifest ({exc})") from None


@dataclass(frozen=True)
class GcReport:
    removed: tuple[str, ...]  # hashes (hex) whose files were deleted
    kept: int
    removed_tmp: int  # temporary files and manifests without their checkpoint


def _write_atomic(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class CheckpointStore:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, ckpt_hash: bytes) -> Path:
        return self.directory / (ckpt_hash.hex() + SUFFIX)

    def manifest_path(self, ckpt_hash: bytes) -> Path:
        return self.directory / (ckpt_hash.hex() + MANIFEST_SUFFIX)

    def has(self, ckpt_hash: bytes) -> bool:
        return self.path(ckpt_hash).is_file()

    def save(
        self,
        tensors: Mapping[str, Any],
        *,
        round: int | None = None,
        ckpt_before: bytes | None = None,
        claim: Any | None = None,
    ) -> bytes:
        """Write the checkpoint (and its manifest) durably; return its hash. Saving content
        that is already stored writes nothing but a missing manifest."""
        from safetensors.torch import save_file

        from repops.checkpoint import checkpoint_hash

        self.directory.mkdir(parents=True, exist_ok=True)
        digest = checkpoint_hash(tensors)
        if claim is not None and claim.ckpt_after != digest:
            raise SwarmError("state-mismatch", f"the claim's ckpt_after is not this checkpoint ({digest.hex()[:16]})")
        path = self.path(digest)
        # The manifest goes first: a stored checkpoint always has one, while a manifest whose
        # checkpoint never arrived (a kill in between) is ignored by recover and removed by gc.
        if not self.manifest_path(digest).exists() or round is not None:
            manifest = Manifest(digest, round, ckpt_before, claim.encode() if claim is not None else None, time.time())
            text = json.dumps(manifest.as_json(), sort_keys=True).encode()
            _write_atomic(self.manifest_path(digest), lambda tmp: Path(tmp).write_bytes(text))
        if not path.exists():
            # safetensors refuses shared storage and non-contiguous tensors: write private copies.
            plain = {n: t.detach().to("cpu").contiguous().clone() for n, t in tensors.items()}
            _write_atomic(path, lambda tmp: save_file(plain, tmp, metadata={"checkpoint_hash": digest.hex()}))
        fsync_dir(self.directory)
        return digest

    def load(self, ckpt_hash: bytes) -> dict[str, Any]:
        """The checkpoint's tensors, re-hashed: SwarmError(checkpoint-missing | checkpoint-corrupt)."""
        from repops import checkpoint as ckpt
        from repops.errors import RepOpsError

        try:
            return ckpt.load(self.path(ckpt_hash), expected=ckpt_hash)
        except RepOpsError as exc:
            reason = "checkpoint-missing" if exc.reason == "checkpoint_missing" else "checkpoint-corrupt"
            raise SwarmError(
                reason,
                f"{ckpt_hash.hex()}: {exc.detail}; delete the file and fetch it again from a peer (/swarm/ckpt/1), "
                "or run `swarm state check` to see which rounds are affected",
            ) from None

    def verify(self, ckpt_hash: bytes) -> None:
        self.load(ckpt_hash)

    def hashes(self) -> list[bytes]:
        """Every stored checkpoint (by file name; not verified)."""
        out = []
        if not self.directory.is_dir():
            return out
        for p in self.directory.iterdir():
            stem = p.name.removesuffix(SUFFIX)
            if p.name.endswith(SUFFIX) and len(stem) == 64:
                try:
                    out.append(bytes.fromhex(stem))
                except ValueError:
                    continue
        return sorted(out)

    def manifest(self, ckpt_hash: bytes) -> Manifest | None:
        path = self.manifest_path(ckpt_hash)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SwarmError("checkpoint-manifest", f"{path}: unreadable ({exc})") from None
        manifest = Manifest.from_json(data, path)
        if manifest.ckpt_hash != ckpt_hash:
            raise SwarmError("checkpoint-manifest", f"{path}: names checkpoint {manifest.ckpt_hash.hex()[:16]}")
        return manifest

    def scan(self) -> list[tuple[bytes, str]]:
        """Verify every stored checkpoint: (hash, '' or the problem)."""
        out = []
        for h in self.hashes():
            try:
                self.verify(h)
                out.append((h, ""))
            except SwarmError as exc:
                out.append((h, exc.reason))
        return out

    def latest(self, db) -> bytes | None:
        """The checkpoint of the last completed round (the rounds table decides, not file times),
        or the initial checkpoint before any round completed."""
        last = db.last_completed_round()
        return last.ckpt_after if last is not None else db.initial_checkpoint()

    def referenced(self, db, keep_last: int, prepared_window: int | None = None) -> set[bytes]:
        """Checkpoints gc must keep: the last `keep_last` completed rounds (before and after),
        the initial one, rounds in progress, every unsettled claim, every open game.

        `prepared_window` bounds the disk of a peer that never sends its claims to a chain:
        a claim still `prepared` (never submitted) more than that many rounds before the last
        completed round keeps its row but no longer its checkpoints. Only a posted claim can be
        challenged, so nothing a game needs is lost; a poster must not post such an old claim
        later (`store.has(claim.ckpt_after)` says whether it still can)."""
        keep: set[bytes] = set()
        last_done = db.last_completed_round()
        horizon = None
        if prepared_window is not None and last_done is not None:
            horizon = last_done.round - prepared_window
        initial = db.initial_checkpoint()
        if initial:
            keep.add(initial)
        for r in db.rounds(limit=keep_last, phase=RoundPhase.DONE) if keep_last > 0 else []:
            keep.update((r.ckpt_before, r.ckpt_after))
        for r in db.rounds(limit=16, phase=RoundPhase.STARTED):
            keep.add(r.ckpt_before)
        for c in db.unsettled_claims():
            if horizon is not None and c.status is ClaimStatus.PREPARED and c.round < horizon:
                continue
            keep.update((c.ckpt_before, c.ckpt_after))
        for g in db.open_games():
            claim = db.claim(g.claim_digest)
            if claim is not None:
                keep.update((claim.ckpt_before, claim.ckpt_after))
            keep.update(h for h in (g.ckpt_before, g.ckpt_after) if h)
        latest = self.latest(db)
        if latest:
            keep.add(latest)
        return keep

    def gc(self, db, *, keep_last: int = 3, tmp_grace_s: float = 600.0, prepared_window: int | None = None) -> GcReport:
        """Delete checkpoints nobody needs (see `referenced`), and temporary files and manifests
        without a checkpoint older than `tmp_grace_s` (left by a crash mid-save)."""
        keep = self.referenced(db, keep_last, prepared_window)
        removed = []
        for h in self.hashes():
            if h in keep:
                continue
            self.path(h).unlink(missing_ok=True)
            self.manifest_path(h).unlink(missing_ok=True)
            removed.append(h.hex())
        removed_tmp = 0
        if self.directory.is_dir():
            cutoff = time.time() - tmp_grace_s
            for p in self.directory.iterdir():
                orphan_manifest = p.name.endswith(MANIFEST_SUFFIX) and not p.with_name(
                    p.name.removesuffix(MANIFEST_SUFFIX) + SUFFIX).exists()
                if (p.name.endswith(TMP_SUFFIX) or orphan_manifest) and p.stat().st_mtime < cutoff:
                    p.unlink(missing_ok=True)
                    removed_tmp += 1
        if removed or removed_tmp:
            fsync_dir(self.directory)
        return GcReport(tuple(removed), len(self.hashes()), removed_tmp)


__all__ = ["CheckpointStore", "GcReport", "MANIFEST_FORMAT", "Manifest"]
