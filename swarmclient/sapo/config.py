"""SapoConfig: every knob of a peer's SAPO loop (model, tasks, rollouts, batch mix, update,
warm start, device), and the committed hyperparameters derived from it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from repops.model import PolicyConfig
from repops.step import StepConfig
from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import BatchPolicy
from swarmclient.sapo.policy import TINY
from swarmclient.tasks.registry import CHAR_TASKS, get_task


@dataclass(frozen=True)
class SapoConfig:
    model: PolicyConfig = TINY
    tasks: tuple[str, ...] = CHAR_TASKS
    task_params: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    instances_per_round: int = 8  # task instances a peer generates (and publishes) per round
    group_size: int = 4  # G completions per instance
    max_new: int = 10  # characters sampled per completion at most
    # Only 1.0: the update's log-probabilities (old_logp and the ratio's numerator) are those
    # of softmax(logits), so sampling at another temperature would train on a distribution
    # that did not produce the samples (a biased gradient and a ratio that is not 1 on-policy).
    temperature: float = 1.0
    local_groups: int = 4  # I
    external_groups: int = 4  # J
    drop_zero_advantage: bool = False
    # 3e-4, not 1e-3: at 1e-3 AdamW's near-sign-sized steps on a 32-row RL batch undid the
    # warm start (fixed-set reward 0.63 -> 0.60 over 30 rounds, sort 0.69 -> 0.57), at 3e-4
    # it rose (0.63 -> 0.65) (docs/sapo.md, "Tuning").
    lr: float = 3e-4
    clip_eps: float = 0.2
    epochs: int = 2  # PPO epochs (>= 2 so the clip can bind)
    kl_coef: float = 0.0
    warm_steps: int = 400
    warm_batch: int = 32
    warm_lr: float = 3e-3
    warm_seed: int = 0
    device: str = "auto"
    memory_fraction: float = 0.5

    def __post_init__(self) -> None:
        for name in self.tasks:
            if not get_task(name).char_level:
                raise SwarmError("bad-config", f"task {name} is not a character-level task the tiny policy can learn")
        if self.group_size < 2:
            raise SwarmError("bad-config", "group_size must be >= 2 (a group of one has no advantage)")
        if self.instances_per_round < 1 or self.max_new < 1:
            raise SwarmError("bad-config", "instances_per_round and max_new must be >= 1")
        if self.temperature != 1.0:
            raise SwarmError(
                "bad-config", f"temperature {self.temperature}: the update scores samples at temperature 1.0 only"
            )
        if self.local_groups + self.external_groups < 1:
            raise SwarmError("bad-config", "the batch needs at least one group (I + J >= 1)")

    def step_config(self) -> StepConfig:
        return StepConfig(
            model=self.model, lr=self.lr, objective="sapo", clip_eps=self.clip_eps, epochs=self.epochs, kl_coef=self.kl_coef
        )

    def batch_policy(self) -> BatchPolicy:
        return BatchPolicy(
            local_groups=self.local_groups,
            external_groups=self.external_groups,
            drop_zero_advantage=self.drop_zero_advantage,
            max_group_size=max(64, self.group_size),
        )


def claim_hparams(cfg: StepConfig) -> dict[str, int | float | str]:
    """The flat map a Claim carries (keys <= 32 bytes, scalars): the StepConfig, model sizes
    prefixed with `m_`, and the full StepConfig digest in hex."""
    out: dict[str, int | float | str] = {}
    for key, value in cfg.to_dict().items():
        if key == "model":
            out.update({f"m_{k}": v for k, v in value.items()})
        else:
            out[key] = value
    out["digest"] = cfg.digest().hex()
    return out
