"""The seam to Verde (verde/, docs/verde.md): op-level re-execution and the deeper levels.

When `verde` is importable and the deployed Game has Verde's op-level moves, a check
re-executes with `verde.execute` (keeping every op's tensors) and each game is played by
`verde.Challenger` / `verde.Claimant`: level 1 over the optimizer steps, level 2 over the
ops of the disputed step (or the checkpoint assembly), level 3 over one element's program.
Otherwise the level-1-only player of swarmclient.verify.games plays and a side that must
descend runs out of clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.sapo.batch import BatchRecord
from swarmclient.verify.replay import step_config_from_hparams

OP_LEVEL_MOVES = ("open_op", "prove_assembly")


def available(deployment: Any) -> bool:
    """Verde can play on this deployment: the package imports and the Game has its moves."""
    try:
        import verde  # noqa: F401
    except ImportError:
        return False
    names = {item.get("name") for item in deployment.abis.get("Game", []) if item.get("type") == "function"}
    return all(move in names for move in OP_LEVEL_MOVES)


def execute(tensors: Mapping[str, Any], records: Sequence[BatchRecord], hparams: Mapping[str, Any], steps: int) -> Any:
    """verde.execute on a claim's evidence (blocking torch work: run it in a thread)."""
    import verde
    from swarmclient.sapo.policy import pack_records

    cfg = step_config_from_hparams(hparams)
    try:
        return verde.execute(dict(tensors), pack_records(list(records), cfg.model), cfg, steps=steps)
    except verde.VerdeError as exc:
        raise SwarmError("replay", f"verde re-execution failed: {exc}") from None


def level1_hashes(execution: Any) -> tuple[bytes, ...]:
    return tuple(execution.level1_hash(p) for p in range(len(execution.steps) + 1))


def as_claimed(execution: Any, ckpt_after: bytes) -> Any:
    """The claimant's execution as it asserts it: its own records, and the checkpoint it
    posted at the end (for an honest peer the same; for a CORRUPT_UPDATE cheater the
    perturbed one, which no record of its trace assembles to)."""
    from verde.execution import Execution, StepTrace

    if execution.ckpt_after == ckpt_after:
        return execution
    steps = [StepTrace(s.ckpt_before, s.ckpt_after, list(s.ops), s.entries, s.param_order, s.step_before)
             for s in execution.steps]
    steps[-1].ckpt_after = ckpt_after
    return Execution(steps, dict(execution.tensors))


def challenger(client: Any, execution: Any, fetch_tensor: Any = None) -> Any:
    """`fetch_tensor(root)`: the claimant's op output (trace_server.TraceFetcher.lookup, filled
    over /swarm/trace/1); without it a dispute inside an op's output cannot be picked."""
    import verde

    return verde.Challenger(client, execution, fetch_tensor=fetch_tensor or (lambda root: None))


def worth_opening(claim: Any, execution: Any) -> tuple[bool, str]:
    """Open a game on this mismatch? Only when Verde can prove it on-chain: a located dispute
    that is provable, or one not located to an op (the claimed checkpoint differs: the game
    locates it, and the checkpoint assembly is provable). A located unprovable one (wiring,
    op counts, an output with no on-chain program) would only cost the challenger its bond."""
    import verde

    verdict = verde.check_claim(claim, execution)
    if verdict.matches:
        return False, "matches"
    dispute = verdict.dispute
    if dispute is None:
        return False, verdict.why or "not provable on-chain"
    if dispute.provable or dispute.op is None:
        return True, dispute.why
    return False, dispute.why or "not provable on-chain"


def claimant(client: Any, execution: Any, game_id: int, claim: Any) -> Any:
    import verde

    player = verde.Claimant(client, execution)
    player.watch(game_id, claim)
    return player


def errors() -> tuple[type[BaseException], ...]:
    import verde

    return (verde.VerdeError,)


__all__ = ["as_claimed", "available", "challenger", "claimant", "errors", "execute", "level1_hashes", "worth_opening"]
