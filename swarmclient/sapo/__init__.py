"""SAPO: group-normalised advantages, the I local + J external training batch, the tiny
policy's tokenization and packing, generation, warm start, the update and its claim record,
the trio round loop and the swarm-versus-isolated experiment. See docs/sapo.md, docs/tasks.md.

rounds, experiment and warmstart import torch-heavy code on use: import them as modules
(`from swarmclient.sapo import rounds`).
"""

from swarmclient.sapo.advantages import (
    DEFAULT_EPS,
    advantages_f32,
    drop_zero_advantage,
    group_advantages,
    is_zero_advantage,
)
from swarmclient.sapo.batch import (
    BATCH_FORMAT,
    Batch,
    BatchPolicy,
    BatchRecord,
    ExternalSampling,
    Rejection,
    RolloutGroup,
    batch_digest,
    build_batch,
    rescore_group,
    verify_records,
)

__all__ = [
    "BATCH_FORMAT",
    "DEFAULT_EPS",
    "Batch",
    "BatchPolicy",
    "BatchRecord",
    "ExternalSampling",
    "Rejection",
    "RolloutGroup",
    "advantages_f32",
    "batch_digest",
    "build_batch",
    "drop_zero_advantage",
    "group_advantages",
    "is_zero_advantage",
    "rescore_group",
    "verify_records",
]
