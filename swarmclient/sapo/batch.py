"""Building a SAPO training batch from I local and J external rollout groups, and its digest.

Rules (docs/tasks.md, "Batch composition"):
- Every group, local or external, is scored here against ground truth regenerated from its
  (task, params, seed); nothing on the wire carries a reward or an answer, so a sender cannot
  poison rewards. Groups that fail validation are rejected with a reason, never raised.
- Externals are drawn in an order fixed by the builder's seed, never "first J that arrived":
  by default uniformly across DISTINCT peers (a random order of peers, one group from each in
  turn, a random group within the peer), so a peer that floods the topic gets no more slots
  than one that sent a single group. The draw is independent of arrival order: candidates are
  sorted by their canonical encoding first.
- Options: drop zero-advantage groups (all rewards equal: no signal), prefer groups of the
  peer's own specialties (drawn first, the rest after), or draw uniformly over all groups.
- Counts: exactly min(I, usable locals) local groups and min(J, usable externals) external
  ones. When fewer than J externals are usable and `fill_with_local` is on, further local
  groups (the caller's list beyond the first I) stand in for the missing ones, so the batch
  keeps I + J groups when it can; `Batch.n_fill` says how many did.
- Digest: SHA-256 over msgpack of [format tag, sorted canonical record encodings]. A record's
  canonical encoding is msgpack of [peer, task@version, sorted params, seed, completions,
  rewards (float64), advantages (float32 little-endian bytes)]; being sorted, the digest is the
  same on any peer whatever order the records were built in.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from swarmclient.errors import SwarmError
from swarmclient.sapo.advantages import DEFAULT_EPS, advantages_f32, is_zero_advantage
from swarmclient.tasks.base import validate_seed
from swarmclient.tasks.rng import TaskRng, derive_key
from swarmclient.tasks.registry import get_task
from swarmclient.tasks.vocab import check_in_vocab

BATCH_FORMAT = "swarm.batch/1"
MAX_PEER_ID_CHARS = 128
MAX_GROUPS = 1024


class ExternalSampling(enum.Enum):
    UNIFORM_PEERS = "uniform-peers"  # uniform over distinct peers, then over a peer's groups
    UNIFORM_GROUPS = "uniform-groups"  # uniform over all groups (a flooding peer gets more)


@dataclass(frozen=True)
class RolloutGroup:
    """G completions of one problem by one peer, as received (or as generated locally)."""

    peer: str
    task: str
    params: Mapping[str, Any]
    seed: int
    completions: tuple[str, ...]


@dataclass(frozen=True)
class BatchRecord:
    """A scored group in a batch. `local` is relative to the builder and not part of the digest."""

    peer: str
    task: str
    params: tuple[tuple[str, int], ...]
    seed: int
    completions: tuple[str, ...]
    rewards: tuple[float, ...]
    advantages: tuple[float, ...]  # float32 values (exact as Python floats)
    local: bool = field(default=False, compare=False)

    def canonical(self) -> bytes:
        adv = np.asarray(self.advantages, dtype=np.float32).astype("<f4").tobytes()
        return msgpack.packb(
            [
                self.peer,
                self.task,
                [list(kv) for kv in self.params],
                self.seed,
                list(self.completions),
                [float(r) for r in self.rewards],
                adv,
            ],
            use_bin_type=True,
        )


@dataclass(frozen=True)
class Rejection:
    peer: str
    task: str
    reason: str
    detail: str


@dataclass(frozen=True)
class BatchPolicy:
    local_groups: int = 4  # I
    external_groups: int = 4  # J
    sampling: ExternalSampling = ExternalSampling.UNIFORM_PEERS
    drop_zero_advantage: bool = False  # applies to local and external groups
    prefer_specialties: bool = False
    fill_with_local: bool = True
    max_group_size: int = 64
    eps: float = DEFAULT_EPS

    def __post_init__(self) -> None:
        for name in ("local_groups", "external_groups"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GROUPS:
                raise SwarmError("bad-policy", f"{name}={value!r} outside [0, {MAX_GROUPS}]")
        if not 1 <= self.max_group_size <= 1024:
            raise SwarmError("bad-policy", f"max_group_size={self.max_group_size} outside [1, 1024]")
        if not isinstance(self.sampling, ExternalSampling):
            raise SwarmError("bad-policy", f"sampling={self.sampling!r} is not an ExternalSampling")


@dataclass(frozen=True)
class Batch:
    records: tuple[BatchRecord, ...]  # in canonical order: the order the update consumes them
    digest: str
    n_local: int  # includes the fill
    n_external: int
    n_fill: int  # local groups standing in for missing externals
    external_peers: tuple[str, ...]
    rejected: tuple[Rejection, ...]
    dropped_zero_advantage: int


@dataclass(frozen=True)
class _Candidate:
    group: RolloutGroup
    task: str  # canonical task@version
    task_name: str
    params: tuple[tuple[str, int], ...]
    key: bytes  # canonical encoding of the unscored group (peer included): the sort key
    content: bytes  # the same without the peer: two peers sending one group are duplicates


def _prepare(group: object, max_group_size: int) -> _Candidate:
    """The cheap checks (no generation): shape, task, params, seed. SwarmError if bad."""
    if not isinstance(group, RolloutGroup):
        raise SwarmError("bad-group", f"expected RolloutGroup, got {type(group).__name__}")
    if not isinstance(group.peer, str) or not 0 < len(group.peer) <= MAX_PEER_ID_CHARS:
        raise SwarmError("bad-group", "peer id must be a non-empty short string")
    task = get_task(group.task)
    params = tuple(task.validate_params(group.params).items())
    seed = validate_seed(group.seed)
    comps = group.completions
    if not isinstance(comps, tuple | list) or not 1 <= len(comps) <= max_group_size:
        raise SwarmError("bad-group", f"a group needs 1..{max_group_size} completions")
    for completion in comps:
        task.check_completion(completion)
        if task.char_level:
            check_in_vocab(completion, "completion")
    content = msgpack.packb([task.ref, [list(kv) for kv in params], seed, list(comps)], use_bin_type=True)
    key = msgpack.packb([group.peer, content], use_bin_type=True)
    return _Candidate(group, task.ref, task.name, params, key, content)


def _score(cand: _Candidate, eps: float, local: bool) -> BatchRecord:
    """Regenerate the truth and score every completion (the expensive step)."""
    task = get_task(cand.task)
    problem = task.generate(dict(cand.params), cand.group.seed)
    rewards = tuple(task.score(problem, c) for c in cand.group.completions)
    advantages = tuple(float(a) for a in advantages_f32(rewards, eps))
    return BatchRecord(
        cand.group.peer, cand.task, cand.params, cand.group.seed, tuple(cand.group.completions), rewards, advantages, local
    )


def rescore_group(group: RolloutGroup, eps: float = DEFAULT_EPS, max_group_size: int = 64) -> BatchRecord:
    """One group validated and scored locally (SwarmError with a reason if it is invalid)."""
    return _score(_prepare(group, max_group_size), eps, local=False)


def batch_digest(records: Sequence[BatchRecord]) -> str:
    """Hex SHA-256 of the batch's canonical encoding (independent of record order)."""
    encoded = sorted(record.canonical() for record in records)
    return hashlib.sha256(msgpack.packb([BATCH_FORMAT, encoded], use_bin_type=True)).hexdigest()


def verify_records(records: Sequence[BatchRecord], eps: float = DEFAULT_EPS, max_group_size: int = 64) -> list[str]:
    """Rescore every record from its (task, params, seed, completions); describe each mismatch.

    A watcher runs this on the batch a claim names: an empty list means the claimed rewards
    and advantages are the ones any honest peer computes.
    """
    problems = []
    for i, record in enumerate(records):
        try:
            group = RolloutGroup(record.peer, record.task, dict(record.params), record.seed, record.completions)
            again = rescore_group(group, eps, max_group_size)
        except SwarmError as exc:
            problems.append(f"record {i}: {exc}")
            continue
        except (TypeError, ValueError) as exc:  # params that are not a list of pairs
            problems.append(f"record {i}: malformed: {exc}")
            continue
        if again.rewards != tuple(record.rewards) or again.advantages != tuple(record.advantages):
            problems.append(f"record {i}: rewards/advantages differ from a local rescoring")
    return problems


def _uniform_peer_order(cands: list[_Candidate], rng: TaskRng) -> Iterator[_Candidate]:
    by_peer: dict[str, list[_Candidate]] = {}
    for cand in sorted(cands, key=lambda c: c.key):
        by_peer.setdefault(cand.group.peer, []).append(cand)
    while by_peer:
        # One pass visits every remaining peer once, in a fresh random order, before any
        # peer is visited twice: distinct peers first, whatever their group counts.
        for peer in rng.permutation(sorted(by_peer)):
            pool = by_peer[peer]
            yield pool.pop(rng.below(len(pool)))
            if not pool:
                del by_peer[peer]


def _uniform_group_order(cands: list[_Candidate], rng: TaskRng) -> Iterator[_Candidate]:
    yield from rng.permutation(sorted(cands, key=lambda c: c.key))


def build_batch(
    local: Sequence[RolloutGroup],
    external: Sequence[object],
    *,
    own_peer: str,
    policy: BatchPolicy,
    seed: int | bytes,
    specialties: frozenset[str] = frozenset(),
) -> Batch:
    """The batch for one update (see the module docstring for the rules).

    `local` is this peer's own groups in its own order (the first I are used; later ones are
    the fill). `external` is everything received this round, in any order and of any quality.
    `specialties` are task names (see tasks.specialty_tasks) used with prefer_specialties.
    """
    if len(local) > MAX_GROUPS or len(external) > 64 * MAX_GROUPS:
        raise SwarmError("bad-batch", "too many candidate groups")
    rejected: list[Rejection] = []
    dropped = 0

    def reject(group: object, exc: SwarmError) -> None:
        peer = getattr(group, "peer", "?")
        task = getattr(group, "task", "?")
        rejected.append(Rejection(str(peer)[:MAX_PEER_ID_CHARS], str(task)[:64], exc.reason, exc.detail))

    # Locals come from this peer's own generator: a failure there is a bug, so it raises.
    local_records: list[BatchRecord] = []
    seen: set[bytes] = set()
    for group in local:
        cand = _prepare(group, policy.max_group_size)
        seen.add(cand.content)
        record = _score(cand, policy.eps, local=True)
        if policy.drop_zero_advantage and is_zero_advantage(record.rewards):
            dropped += 1
            continue
        local_records.append(record)
    chosen_local = local_records[: policy.local_groups]
    spare_local = local_records[policy.local_groups :]

    valid: list[_Candidate] = []
    for group in external:
        try:
            valid.append(_prepare(group, policy.max_group_size))
        except SwarmError as exc:
            reject(group, exc)
    # Sorted before the duplicate test, so which copy survives does not depend on arrival order.
    valid.sort(key=lambda c: c.key)
    preferred: list[_Candidate] = []
    others: list[_Candidate] = []
    for cand in valid:
        if cand.group.peer == own_peer:
            reject(cand.group, SwarmError("from-self", "own rollouts are local, not external"))
        elif cand.content in seen:
            reject(cand.group, SwarmError("duplicate", "the same problem and completions were already received"))
        else:
            seen.add(cand.content)
            wanted = policy.prefer_specialties and cand.task_name in specialties
            (preferred if wanted else others).append(cand)

    rng = TaskRng(derive_key("swarm.sapo.batch", seed))
    order = _uniform_peer_order if policy.sampling is ExternalSampling.UNIFORM_PEERS else _uniform_group_order
    chosen_external: list[BatchRecord] = []
    for pool in (preferred, others):
        for cand in order(pool, rng):
            if len(chosen_external) >= policy.external_groups:
                break
            try:
                record = _score(cand, policy.eps, local=False)
            except SwarmError as exc:
                reject(cand.group, exc)
                continue
            if policy.drop_zero_advantage and is_zero_advantage(record.rewards):
                dropped += 1
                continue
            chosen_external.append(record)

    missing = policy.external_groups - len(chosen_external)
    fill = spare_local[:missing] if policy.fill_with_local and missing > 0 else []
    records = chosen_local + fill + chosen_external
    ordered = tuple(sorted(records, key=lambda r: r.canonical()))
    return Batch(
        records=ordered,
        digest=batch_digest(ordered),
        n_local=len(chosen_local) + len(fill),
        n_external=len(chosen_external),
        n_fill=len(fill),
        external_peers=tuple(sorted({r.peer for r in chosen_external})),
        rejected=tuple(rejected),
        dropped_zero_advantage=dropped,
    )
