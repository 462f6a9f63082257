"""Checkpoint hashes and content-addressed safetensors files (docs/commitments.md).

A checkpoint is a flat mapping name -> tensor: every parameter, every optimizer state tensor
(`<param>.exp_avg`, `<param>.exp_avg_sq`) and the int64 scalar `step`. Its hash is the Merkle
root over entries sorted bytewise by UTF-8 name; the file is named by that hash, and loading
re-hashes what was read, so a corrupt or substituted file is an error, never silently used.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Mapping

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from repops import merkle
from repops.errors import RepOpsError

SUFFIX = ".safetensors"


def entry_hash(name: str, tensor_root: bytes) -> bytes:
    """sha256(0x05 || name length (2 bytes LE) || name (UTF-8) || tensor root)."""
    data = name.encode("utf-8")
    if not data or len(data) > 0xFFFF:
        raise RepOpsError("bad_checkpoint", f"tensor names are 1-65535 UTF-8 bytes: {name!r}")
    return hashlib.sha256(merkle.TAG_ENTRY + len(data).to_bytes(2, "little") + data + tensor_root).digest()


def sorted_names(tensors: Mapping[str, torch.Tensor]) -> list[str]:
    return sorted(tensors, key=lambda n: n.encode("utf-8"))


def checkpoint_hash(tensors: Mapping[str, torch.Tensor]) -> bytes:
    """sha256(0x06 || entry count (8 bytes LE) || tree root over the sorted entries)."""
    names = sorted_names(tensors)
    for name in names:
        if not isinstance(tensors[name], torch.Tensor):
            raise RepOpsError("bad_checkpoint", f"{name!r} is not a tensor")
    leaves = b"".join(entry_hash(n, merkle.tensor_root(tensors[n])) for n in names)
    tree = merkle.tree_root_concat(leaves)
    return hashlib.sha256(merkle.TAG_CHECKPOINT + len(names).to_bytes(8, "little") + tree).digest()


def prove_entry(tensors: Mapping[str, torch.Tensor], name: str) -> tuple[int, int, list[bytes]]:
    """(index, entry count, siblings) proving that entry `name` is in the checkpoint; the leaf
    is entry_hash(name, tensor_root(tensors[name]))."""
    names = sorted_names(tensors)
    if name not in tensors:
        raise RepOpsError("bad_checkpoint", f"no tensor named {name!r}")
    leaves = [entry_hash(n, merkle.tensor_root(tensors[n])) for n in names]
    index = names.index(name)
    return index, len(names), merkle.prove(leaves, index)


def verify_entry(ckpt_hash: bytes, name: str, tensor_root: bytes, index: int, count: int, siblings) -> bool:
    if not 0 <= index < count or len(siblings) != merkle.tree_depth(count):
        return False
    tree = merkle.root_from_proof(entry_hash(name, tensor_root), index, siblings)
    return hashlib.sha256(merkle.TAG_CHECKPOINT + count.to_bytes(8, "little") + tree).digest() == ckpt_hash


def save(tensors: Mapping[str, torch.Tensor], directory: str | os.PathLike) -> tuple[bytes, Path]:
    """Write `<hash hex>.safetensors` into `directory` (atomically) and return (hash, path).
    Saving the same content twice is a no-op that returns the existing file."""
    digest = checkpoint_hash(tensors)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (digest.hex() + SUFFIX)
    if path.exists():
        return digest, path
    # safetensors refuses shared storage and non-contiguous tensors: write private copies.
    plain = {n: t.detach().to("cpu").contiguous().clone() for n, t in tensors.items()}
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    os.close(fd)
    try:
        save_file(plain, tmp, metadata={"checkpoint_hash": digest.hex()})
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return digest, path


def path_for(directory: str | os.PathLike, ckpt_hash: bytes) -> Path:
    return Path(directory) / (ckpt_hash.hex() + SUFFIX)


def load(path: str | os.PathLike, expected: bytes | None = None) -> dict[str, torch.Tensor]:
    """Read a checkpoint file and check its content hash against `expected`, or, when not
    given, against the hash its file name claims. RepOpsError on any mismatch or corruption."""
    path = Path(path)
    if expected is None:
        stem = path.name.removesuffix(SUFFIX)
        try:
            expected = bytes.fromhex(stem)
        except ValueError:
            raise RepOpsError("checkpoint_unnamed", f"{path.name} is not named by its hash; pass expected=") from None
        if len(expected) != 32:
            raise RepOpsError("checkpoint_unnamed", f"{path.name} is not named by its hash; pass expected=")
    try:
        tensors = load_file(str(path))
    except FileNotFoundError:
        raise RepOpsError("checkpoint_missing", str(path)) from None
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise RepOpsError("checkpoint_corrupt", f"{path.name}: {exc}") from None
    try:
        actual = checkpoint_hash(tensors)
    except RepOpsError as exc:
        raise RepOpsError("checkpoint_corrupt", f"{path.name}: {exc}") from None
    if actual != expected:
        raise RepOpsError(
            "checkpoint_hash_mismatch", f"{path.name}: content hashes to {actual.hex()}, expected {expected.hex()}"
        )
    return tensors


__all__ = ["checkpoint_hash", "entry_hash", "load", "path_for", "prove_entry", "save", "verify_entry"]
