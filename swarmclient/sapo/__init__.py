"""SAPO: group-normalised advantages and the I local + J external training batch.

The update itself (clipped objective on the RepOps policy) builds on these; see docs/tasks.md.
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
