"""Re-executing a claim: the SAPO update from its starting checkpoint on its batch, on RepOps.

The result is the claim's level-1 sequence (docs/contracts.md, "Game"): the checkpoint hash
before the update and after each optimizer step, so position 0 is `ckpt_before` and position
`steps` is `ckpt_after`. RepOps makes it bit-identical on any machine, so an honest claim
reproduces exactly and any difference is a dispute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import BatchRecord


@dataclass(frozen=True)
class Replayed:
    hashes: tuple[bytes, ...]  # positions 0 .. steps of level 1

    @property
    def ckpt_after(self) -> bytes:
        return self.hashes[-1]

    @property
    def steps(self) -> int:
        return len(self.hashes) - 1


def step_config_from_hparams(hparams: Mapping[str, Any]) -> Any:
    """The StepConfig a claim's flat hparams map describes (sapo.config.claim_hparams),
    checked against the digest the map carries."""
    from repops.errors import RepOpsError
    from repops.step import StepConfig

    model = {k[2:]: v for k, v in hparams.items() if k.startswith("m_")}
    rest = {k: v for k, v in hparams.items() if not k.startswith("m_") and k != "digest"}
    try:
        cfg = StepConfig.from_dict({**rest, "model": model})
    except RepOpsError as exc:
        raise SwarmError("bad-hparams", f"the claim's hparams do not make a StepConfig: {exc}") from None
    if cfg.digest().hex() != hparams.get("digest"):
        raise SwarmError("bad-hparams", "the claim's hparams do not match their digest")
    return cfg


def reexecute(tensors: Mapping[str, Any], records: Sequence[BatchRecord], hparams: Mapping[str, Any]) -> Replayed:
    """Blocking (torch): run it in trio.to_thread.run_sync."""
    from repops.errors import RepOpsError
    from repops.model import Policy
    from repops.step import load_state, make_optimizer, sapo_update
    from swarmclient.sapo.policy import pack_records

    cfg = step_config_from_hparams(hparams)
    try:
        model = Policy(cfg.model)
        optimizer = make_optimizer(model, cfg)
        load_state(model, optimizer, tensors)
        result = sapo_update(model, optimizer, pack_records(list(records), cfg.model), cfg)
    except RepOpsError as exc:
        raise SwarmError("replay", f"re-execution failed: {exc}") from None
    return Replayed((result.steps[0].ckpt_before, *(s.ckpt_after for s in result.steps)))


__all__ = ["Replayed", "reexecute", "step_config_from_hparams"]
