"""Python mirror of every hash the contracts compute (docs/contracts.md, "Hashes").

Contract-defined hashes put numbers big-endian (the EVM's order); tensor chunks stay
little-endian as docs/commitments.md defines them. Tree rules are commitments.md's:
inner node sha256(0x01 || left || right), leaves padded with 32 zero bytes to a power of two.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

ZERO = b"\0" * 32
CHUNK_ELEMENTS = 256
BINDING_DOMAIN = b"swarm-registry/1"


def sha256(*parts: bytes) -> bytes:
    return hashlib.sha256(b"".join(parts)).digest()


def _u256(x: int) -> bytes:
    return x.to_bytes(32, "big")


def _addr(address: str) -> bytes:
    return bytes.fromhex(address[2:] if address.startswith("0x") else address)


# --- trees -----------------------------------------------------------------------------------

def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    if not leaves:
        return [[ZERO]]
    size = 1
    while size < len(leaves):
        size *= 2
    level = list(leaves) + [ZERO] * (size - len(leaves))
    levels = [level]
    while len(level) > 1:
        level = [sha256(b"\x01", level[i], level[i + 1]) for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def tree_root(leaves: list[bytes]) -> bytes:
    return _levels(leaves)[-1][0]


def tree_proof(leaves: list[bytes], index: int) -> list[bytes]:
    """Sibling hashes from the leaf level up (commitments.md)."""
    proof = []
    for level in _levels(leaves)[:-1]:
        proof.append(level[index ^ 1])
        index //= 2
    return proof


def root_from_path(leaf: bytes, index: int, siblings: list[bytes]) -> bytes:
    node = leaf
    for sibling in siblings:
        node = sha256(b"\x01", sibling, node) if index & 1 else sha256(b"\x01", node, sibling)
        index >>= 1
    return node


# --- claims ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Claim:
    claimant: str
    round: int
    claim_digest: bytes
    trace_root: bytes
    ckpt_before: bytes
    ckpt_after: bytes
    steps: int

    def as_tuple(self) -> tuple:
        return (self.claimant, self.round, self.claim_digest, self.trace_root,
                self.ckpt_before, self.ckpt_after, self.steps)

    def leaf(self) -> bytes:
        return sha256(b"\x10", _addr(self.claimant), _u256(self.round), self.claim_digest, self.trace_root,
                      self.ckpt_before, self.ckpt_after, _u256(self.steps))


def batch_key(claimant: str, epoch: int, root: bytes, count: int) -> bytes:
    return sha256(b"\x11", _addr(claimant), _u256(epoch), root, _u256(count))


def binding_message(chain_id: int, registry: str, account: str) -> bytes:
    """What the peer key signs to bind itself to `account` (modules/binding.vy)."""
    return BINDING_DOMAIN + _u256(chain_id) + _addr(registry) + _addr(account)


# --- the scalar machine of the last level (modules/scalar_step.vy) ---------------------------

OPCODES = {"add": 0, "sub": 1, "mul": 2, "div": 3, "sqrt": 4, "min": 5, "max": 6, "neg": 7, "abs": 8}
SRC_ACC, SRC_TMP, SRC_TENSOR, SRC_IMMEDIATE = 0, 1, 2, 3


@dataclass(frozen=True)
class Instruction:
    opcode: int
    dst: int
    src_a: int
    src_b: int
    root_a: bytes = ZERO
    index_a: int = 0
    root_b: bytes = ZERO
    index_b: int = 0

    def as_tuple(self) -> tuple:
        return (self.opcode, self.dst, self.src_a, self.src_b, self.root_a, self.index_a, self.root_b, self.index_b)

    def leaf(self, pc: int) -> bytes:
        return sha256(b"\x08", struct.pack(">Q", pc), bytes([self.opcode, self.dst, self.src_a, self.src_b]),
                      self.root_a, struct.pack(">Q", self.index_a), self.root_b, struct.pack(">Q", self.index_b))


def state_hash(program_root: bytes, pc: int, acc: int, tmp: int) -> bytes:
    return sha256(b"\x07", program_root, struct.pack(">QII", pc, acc, tmp))


# --- float32 tensors (commitments.md), enough to open one element ----------------------------

@dataclass(frozen=True)
class Float32Tensor:
    """A float32 tensor's canonical chunks, root and element openings."""

    bits: tuple[int, ...]  # binary32 bit patterns, row-major
    shape: tuple[int, ...]

    @property
    def header(self) -> bytes:
        return bytes([1, len(self.shape)]) + b"".join(struct.pack("<Q", d) for d in self.shape)

    def chunks(self) -> list[bytes]:
        raw = b"".join(struct.pack("<I", b) for b in self.bits)
        size = CHUNK_ELEMENTS * 4
        return [raw[i:i + size] for i in range(0, len(raw), size)]

    def root(self) -> bytes:
        leaves = [sha256(b"\x00", c) for c in self.chunks()]
        return sha256(b"\x02", self.header, tree_root(leaves))

    def opening(self, index: int) -> tuple:
        """(header, chunk, siblings) as scalar_step.Opening wants it."""
        chunks = self.chunks()
        leaves = [sha256(b"\x00", c) for c in chunks]
        return (self.header, chunks[index // CHUNK_ELEMENTS], tree_proof(leaves, index // CHUNK_ELEMENTS))


EMPTY_OPENING = (b"", b"", [])


def verify_binding(peer_key: bytes, signature: bytes, chain_id: int, registry: str, account: str) -> bool:
    """Off-chain twin of modules/binding.vy: does `signature` bind `peer_key` to `account`?"""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(peer_key).verify(signature, binding_message(chain_id, registry, account))
    except (InvalidSignature, ValueError):
        return False
    return True


# --- Verde levels 2 and 3 (Game.vy, OpStep.vy, modules/op_step.vy; docs/verde.md) -------------

ACC_DEPTH = 20  # level 2: fixed-depth tree over one step's op records (2**20 ops)


def _zero_subtrees(depth: int) -> list[bytes]:
    nodes = [ZERO]
    for _ in range(depth):
        nodes.append(sha256(b"\x01", nodes[-1], nodes[-1]))
    return nodes


ZERO_SUBTREES = _zero_subtrees(ACC_DEPTH)
EMPTY_ACC = ZERO_SUBTREES[ACC_DEPTH]


def acc_hash(base: bytes, count: int, acc: bytes) -> bytes:
    """Level-2 position `count` (>= 1) of the step starting at checkpoint `base`."""
    return sha256(b"\x20", base, struct.pack(">Q", count), acc)


PLAN_ABI = "(uint8,uint8,uint64,bytes32[4],uint64[4],uint64[2],uint64,uint256[6])"


@dataclass(frozen=True)
class Plan:
    """op_step.Plan: the program of one output element (see modules/op_step.vy)."""

    kind: int
    slot: int
    length: int
    roots: tuple[bytes, bytes, bytes, bytes]
    index: tuple[int, int, int, int]
    stride: tuple[int, int] = (0, 0)
    k: int = 0
    attrs: tuple[int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0)

    def as_tuple(self) -> tuple:
        return (self.kind, self.slot, self.length, list(self.roots), list(self.index), list(self.stride), self.k,
                list(self.attrs))


def op_context(plan: Plan, record: bytes, element: int) -> bytes:
    from eth_abi import encode

    return sha256(b"\x31", encode([PLAN_ABI, "bytes32", "uint64"], [plan.as_tuple(), record, element]))


def op_state_hash(ctx: bytes, pc: int, regs: tuple[int, int, int, int]) -> bytes:
    return sha256(b"\x30", ctx, struct.pack(">Q", pc), *(r.to_bytes(32, "big") for r in regs))


def op_final_hash(ctx: bytes, value: int) -> bytes:
    return sha256(b"\x33", ctx, struct.pack(">I", value))


def acc_path(record_hashes: list[bytes], i: int) -> list[bytes]:
    """Siblings of leaf i in the level-2 accumulator of the first i records (later leaves ZERO):
    left siblings are complete subtrees of records before i, right ones are all-ZERO subtrees."""
    levels = [list(record_hashes)]
    while len(levels[-1]) > 1:
        level = levels[-1] + ([ZERO] if len(levels[-1]) % 2 else [])
        levels.append([sha256(b"\x01", level[j], level[j + 1]) for j in range(0, len(level), 2)])
    return [levels[t][(i >> t) ^ 1] if (i >> t) & 1 else ZERO_SUBTREES[t] for t in range(ACC_DEPTH)]


def trace_record_hash(index: int, op: str, inputs: list[bytes], outputs: list[bytes], attrs_digest: bytes = ZERO) -> bytes:
    """A trace record's hash (docs/commitments.md, tag 0x03; little-endian index)."""
    name = op.encode("ascii")
    return sha256(b"\x03", index.to_bytes(8, "little"), bytes([len(name)]), name, bytes([len(inputs)]), *inputs,
                  bytes([len(outputs)]), *outputs, attrs_digest)


def acc_inclusion_path(record_hashes: list[bytes], i: int) -> list[bytes]:
    """Siblings of leaf i in the level-2 accumulator of ALL the records (Game.prove_assembly)."""
    size = 1
    while size < len(record_hashes):
        size *= 2
    levels = [list(record_hashes) + [ZERO] * (size - len(record_hashes))]
    while len(levels[-1]) > 1:
        level = levels[-1]
        levels.append([sha256(b"\x01", level[j], level[j + 1]) for j in range(0, len(level), 2)])
    return [levels[t][(i >> t) ^ 1] if t < len(levels) - 1 else ZERO_SUBTREES[t] for t in range(ACC_DEPTH)]


def checkpoint_hash(entries: list[tuple[bytes, bytes]]) -> bytes:
    """docs/commitments.md checkpoint hash of sorted (name bytes, tensor root) entries."""
    leaves = [sha256(b"\x05", len(name).to_bytes(2, "little"), name, root) for name, root in entries]
    return sha256(b"\x06", len(entries).to_bytes(8, "little"), tree_root(leaves))


def int64_scalar_root(value: int) -> bytes:
    return sha256(b"\x02", b"\x03\x00", sha256(b"\x00", value.to_bytes(8, "little", signed=True)))
