"""One peer's SAPO learner: sample tasks, generate, and update on I local + J external groups.

The update of round r:
  1. sapo.batch.build_batch: validate and RESCORE every group locally (ground truth is
     regenerated from (task, params, seed); a sender's claims about rewards are never read),
     I local + J external groups, externals drawn uniformly across distinct peers;
  2. group-normalised advantages (sapo.advantages, float32);
  3. pack to a repops Batch (policy.pack_records), old_logp = the current checkpoint's
     log-probs of every row (for local rows exactly what generation recorded);
  4. repops.step.sapo_update: `epochs` clipped-objective steps, untraced (docs/sapo.md);
  5. an UpdateRecord: what the round's Claim commits to.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from protocol.wire import Claim
from repops import checkpoint
from repops.model import Policy
from repops.step import make_optimizer, sapo_update, state_tensors
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import Batch as RecordBatch
from swarmclient.sapo.batch import RolloutGroup, build_batch
from swarmclient.sapo.config import SapoConfig, claim_hparams
from swarmclient.sapo.generate import GeneratedGroup, generate_round
from swarmclient.sapo.policy import memory_guard, pack_records, pick_device
from swarmclient.tasks.registry import TaskInstance, round_seed_material, sample_instances, score_completion
from swarmclient.tasks.rng import derive_key

ZERO_ROOT = bytes(32)  # training is untraced: the trace root is computed only in a dispute


@dataclass(frozen=True)
class UpdateRecord:
    """What one round's update did and what its claim commits to."""

    round: int
    ckpt_before: bytes
    ckpt_after: bytes
    batch_digest: bytes  # SHA-256 of the scored records (sapo.batch.batch_digest)
    tensor_digest: bytes  # repops Batch.digest() of the packed rows with old_logp
    hparams_digest: bytes  # repops StepConfig.digest()
    hparams: dict
    steps: int  # PPO epochs = optimizer steps
    local_groups: int
    external_groups: int
    local_samples: int  # completions from local groups
    external_samples: int
    external_peers: tuple[str, ...]
    rejected: int
    loss: float
    batch_reward: float  # mean locally-scored reward of the training batch

    def to_claim(self) -> Claim:
        return Claim(
            round=self.round,
            ckpt_before=self.ckpt_before,
            ckpt_after=self.ckpt_after,
            batch_digest=self.batch_digest,
            hparams=self.hparams,
            trace_root=ZERO_ROOT,
            op_count=0,
            local_samples=self.local_samples,
            external_samples=self.external_samples,
            steps=self.steps,
        )


def mean_reward(groups: Sequence[RolloutGroup]) -> float:
    """Mean locally computed reward over every completion of the groups."""
    rewards = [score_completion(g.task, g.params, g.seed, c) for g in groups for c in g.completions]
    return math.fsum(rewards) / len(rewards) if rewards else 0.0


class SapoLearner:
    """A peer's policy, optimizer and round logic (synchronous: the round loop runs these in
    trio.to_thread.run_sync, the experiment calls them directly)."""

    def __init__(self, peer_id: str, cfg: SapoConfig, model: Policy, device: torch.device | str | None = None) -> None:
        self.peer_id = peer_id
        self.cfg = cfg
        self.step_cfg = cfg.step_config()
        self.device = torch.device(device) if device is not None else pick_device(cfg.device)
        if model.config != cfg.model:
            raise SwarmError("bad-config", "the model's config differs from SapoConfig.model")
        self.model = Policy(cfg.model)
        self.model.load_tensors({n: p.detach().cpu().clone() for n, p in model.named_parameters()})
        self.model.to(self.device)
        self.optimizer = make_optimizer(self.model, self.step_cfg)
        rows = (cfg.local_groups + cfg.external_groups) * cfg.group_size
        memory_guard(cfg.model, rows, cfg.model.context, cfg.memory_fraction)

    def checkpoint_hash(self) -> bytes:
        return checkpoint.checkpoint_hash({k: v.cpu() for k, v in state_tensors(self.model, self.optimizer).items()})

    def instances(self, round_index: int) -> list[TaskInstance]:
        key = round_seed_material(self.peer_id, round_index)
        return sample_instances(self.cfg.tasks, self.cfg.instances_per_round, key, self.cfg.task_params)

    def generate(self, round_index: int) -> list[GeneratedGroup]:
        return generate_round(
            self.model,
            self.instances(round_index),
            peer_id=self.peer_id,
            round_index=round_index,
            group_size=self.cfg.group_size,
            max_new=self.cfg.max_new,
            temperature=self.cfg.temperature,
        )

    def build(self, round_index: int, local: Sequence[RolloutGroup], external: Sequence[object]) -> RecordBatch:
        return build_batch(
            local,
            external,
            own_peer=self.peer_id,
            policy=self.cfg.batch_policy(),
            seed=derive_key("swarm.sapo.round-batch", self.peer_id, round_index),
        )

    def update(self, round_index: int, local: Sequence[RolloutGroup], external: Sequence[object]) -> UpdateRecord:
        records = self.build(round_index, local, external)
        if not records.records:
            raise SwarmError("empty-batch", f"round {round_index}: no usable group")
        tensors = pack_records(records.records, self.cfg.model).to(self.device)
        result = sapo_update(self.model, self.optimizer, tensors, self.step_cfg)
        n_local = sum(len(r.completions) for r in records.records if r.local)
        n_external = sum(len(r.completions) for r in records.records if not r.local)
        rewards = [x for r in records.records for x in r.rewards]
        return UpdateRecord(
            round=round_index,
            ckpt_before=result.ckpt_before,
            ckpt_after=result.ckpt_after,
            batch_digest=bytes.fromhex(records.digest),
            tensor_digest=result.batch.to("cpu").digest(),
            hparams_digest=self.step_cfg.digest(),
            hparams=claim_hparams(self.step_cfg),
            steps=len(result.steps),
            local_groups=records.n_local,
            external_groups=records.n_external,
            local_samples=n_local,
            external_samples=n_external,
            external_peers=records.external_peers,
            rejected=len(records.rejected),
            loss=result.loss,
            batch_reward=math.fsum(rewards) / len(rewards),
        )
