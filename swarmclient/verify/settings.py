"""When and how a peer takes part in the chain: the deployment it uses, what it checks, and
(devnet only) the fault it injects.

A peer takes part when its home has `chain/deployment.json` (written by `swarm chain up` or
`swarm devnet`) and its config names a JSON-RPC node (`[chain] backend = "rpc"`, `rpc_url`),
or the deployment file records one. `chain/verify.json` (optional) tunes it:
{"sample_rate": 1.0, "stake_ai": 3000, "fault": "none"}.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from pathlib import Path

from swarmclient.errors import SwarmError
from swarmclient.home import Home

SETTINGS_FILE = "verify.json"


class Fault(enum.Enum):
    """A dishonest behaviour a devnet peer can be told to have (fault injection)."""

    NONE = "none"
    # After the honest update, add to one weight and claim the perturbed checkpoint (the
    # peer really continues from it): every re-execution of the claim disagrees at the end.
    CORRUPT_UPDATE = "corrupt-update"


@dataclass(frozen=True)
class VerifySettings:
    deployment: Path
    rpc_url: str
    sample_rate: float = 1.0  # share of other peers' claims this peer re-executes
    stake_ai: int = 3_000  # staked at start (whole AI); a lost game takes min_stake of it
    fault: Fault = Fault.NONE
    poll_seconds: float = 0.5
    fetch_timeout: float = 20.0

    def to_json(self) -> dict:
        return {"sample_rate": self.sample_rate, "stake_ai": self.stake_ai, "fault": self.fault.value}


def chain_dir(home: Home) -> Path:
    return home.root / "chain"


def write(home: Home, *, sample_rate: float = 1.0, stake_ai: int = 3_000, fault: Fault = Fault.NONE) -> Path:
    path = chain_dir(home) / SETTINGS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"sample_rate": sample_rate, "stake_ai": stake_ai, "fault": fault.value}) + "\n")
    return path


def load(home: Home, config_rpc_url: str = "") -> VerifySettings | None:
    """The settings, or None when this peer has no chain to take part in."""
    deployment = chain_dir(home) / "deployment.json"
    if not deployment.exists():
        return None
    from protocol.chain.deployment import deployment_rpc_url
    from protocol.errors import ProtocolError

    try:
        url = config_rpc_url or deployment_rpc_url(deployment) or ""
    except ProtocolError as exc:
        raise SwarmError("bad-deployment", f"{deployment}: {exc.detail}") from None
    if not url:
        raise SwarmError("no-rpc", f"{deployment} exists but neither it nor config.toml names an rpc_url")
    extra: dict = {}
    path = chain_dir(home) / SETTINGS_FILE
    if path.exists():
        try:
            extra = json.loads(path.read_text())
            if not isinstance(extra, dict):
                raise ValueError("not a JSON object")
            unknown = set(extra) - {"sample_rate", "stake_ai", "fault"}
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            rate = float(extra.get("sample_rate", 1.0))
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"sample_rate {rate} outside [0, 1]")
            stake = int(extra.get("stake_ai", 3_000))
            if stake < 0:
                raise ValueError("stake_ai must be >= 0")
            fault = Fault(extra.get("fault", "none"))
        except (OSError, ValueError, TypeError) as exc:
            raise SwarmError("bad-verify-settings", f"{path}: {exc}") from None
        return VerifySettings(deployment, url, rate, stake, fault)
    return VerifySettings(deployment, url)


def participant_for(home: Home, identity: object, config_rpc_url: str = "", *, log=print):
    """The chain component for this home (swarmclient.verify.participant.Participant), or
    None when the home has no chain deployment to take part in."""
    loaded = load(home, config_rpc_url)
    if loaded is None:
        return None
    from swarmclient.verify.participant import Participant

    return Participant(home, identity, loaded, log=log)


__all__ = ["Fault", "SETTINGS_FILE", "participant_for", "VerifySettings", "chain_dir", "load", "write"]
