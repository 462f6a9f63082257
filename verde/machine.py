"""A game's local state: its phase, the transition table, and the persistent record.

The phase is read off the chain's view of the game (level, stage, status); the table lists
every phase change a player may observe between two of its own steps. A change outside the
table means the chain and this client disagree about the rules: the player stops with a
VerdeError instead of guessing (house style of Optimism's FaultDisputeGame / Arbitrum BoLD
clients: an explicit machine, no implicit states).
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from protocol.chain.commit import Claim
from verde.errors import VerdeError


class Phase(str, enum.Enum):
    STEPS = "steps"            # level 1: bisecting over the claim's steps
    OPS = "ops"                # level 2: bisecting over one step's ops (and the assembly)
    PICKING = "picking"        # an op is opened; the challenger names an element
    ELEMENT = "element"        # level 3: bisecting over one element's program
    CLAIMANT_WON = "claimant_won"
    CHALLENGER_WON = "challenger_won"


FINAL = {Phase.CLAIMANT_WON, Phase.CHALLENGER_WON}

# phase -> phases that may follow it (several chain moves may happen between two looks;
# every path through the game only goes forward, so the table is the forward closure).
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.STEPS: frozenset({Phase.STEPS, Phase.OPS, Phase.PICKING, Phase.ELEMENT, *FINAL}),
    Phase.OPS: frozenset({Phase.OPS, Phase.PICKING, Phase.ELEMENT, *FINAL}),
    Phase.PICKING: frozenset({Phase.PICKING, Phase.ELEMENT, *FINAL}),
    Phase.ELEMENT: frozenset({Phase.ELEMENT, *FINAL}),
    Phase.CLAIMANT_WON: frozenset({Phase.CLAIMANT_WON}),
    Phase.CHALLENGER_WON: frozenset({Phase.CHALLENGER_WON}),
}


def phase_of(status: str, level: int, stage: int) -> Phase:
    """The phase of a game from its chain view (GameView.status/level, verde_state stage)."""
    if status == "claimant_won":
        return Phase.CLAIMANT_WON
    if status == "challenger_won":
        return Phase.CHALLENGER_WON
    if status != "open":
        raise VerdeError("bad_view", f"game status {status!r}")
    if level == 1:
        return Phase.STEPS
    if level == 2:
        return Phase.PICKING if stage == 1 else Phase.OPS
    if level == 3:
        return Phase.ELEMENT
    raise VerdeError("bad_view", f"level {level}")


def advance(current: Phase, observed: Phase) -> Phase:
    # INVARIANT: the chain only moves a game forward through the table.
    if observed not in TRANSITIONS[current]:
        raise VerdeError("unexpected_transition", f"{current.value} -> {observed.value}")
    return observed


@dataclass
class GameRecord:
    """Everything a player keeps about one game; plain data, so a runtime can persist it
    (`to_dict` is JSON-safe) and resume after a restart (`from_dict`)."""

    game_id: int
    role: str                       # "claimant" | "challenger"
    claim: Claim
    phase: Phase = Phase.STEPS
    step: int | None = None         # level-1 transition descended into
    op: int | None = None           # level-2 op opened
    slot: int | None = None         # output picked
    element: int | None = None      # element picked
    opened: str | None = None       # hex of the op record hash opened on-chain (level 3's context)
    moves: int = 0
    gas: int = 0
    outcome: str | None = None      # "won" | "lost" once resolved
    notes: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.phase in FINAL

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["phase"] = self.phase.value
        out["claim"] = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in asdict(self.claim).items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "GameRecord":
        try:
            c = dict(data["claim"])
            for key in ("claim_digest", "trace_root", "ckpt_before", "ckpt_after"):
                c[key] = bytes.fromhex(c[key])
            fields = dict(data)
            fields["claim"] = Claim(**c)
            fields["phase"] = Phase(fields["phase"])
            fields["notes"] = list(fields.get("notes", []))
            if fields["role"] not in ("claimant", "challenger"):
                raise ValueError(f"role {fields['role']!r}")
            return cls(**fields)
        except (KeyError, TypeError, ValueError) as exc:
            raise VerdeError("bad_record", str(exc)) from None


__all__ = ["FINAL", "GameRecord", "Phase", "TRANSITIONS", "advance", "phase_of"]
