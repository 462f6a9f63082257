"""Deploying the four contracts and the deployment file that lets other processes find them.

The file is JSON: {"format", "chain_id", "block", "params", "contracts": {name: {"address",
"abi", "bytecode"}}, "rpc" (optional)}. `load_deployment` checks it against the chain it is used with: a wrong chain id or
an address without code is a one-line error, not a failed call later.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import trio
from web3 import Web3

from protocol.chain.artifacts import CONTRACT_NAMES, load_artifacts
from protocol.chain.reasons import ChainReason
from protocol.chain.worker import TxWorker
from protocol.errors import ProtocolError

FORMAT = "swarm-deployment/1"
AI = 10**18


@dataclass(frozen=True)
class Params:
    """Protocol parameters fixed at deployment (docs/contracts.md, "Parameters")."""

    min_stake: int = 1_000 * AI
    unbonding_delay: int = 3 * 24 * 3600
    challenge_window: int = 24 * 3600
    reward_per_claim: int = 10 * AI
    max_batch: int = 4096
    bond: int = 500 * AI
    clock: int = 12 * 3600
    levels: int = 3
    winner_bps: int = 5_000
    pool: int = 1_000_000 * AI  # treasury -> ledger reward pool at deployment


@dataclass
class Deployment:
    chain_id: int
    block: int
    params: Params
    addresses: dict[str, str]
    abis: dict[str, list] = field(repr=False)
    bytecodes: dict[str, str] = field(default_factory=dict, repr=False)  # deploy bytecode, for audit/redeploy

    def to_json(self) -> dict:
        return {
            "format": FORMAT,
            "chain_id": self.chain_id,
            "block": self.block,
            "params": asdict(self.params),
            "contracts": {n: {"address": self.addresses[n], "abi": self.abis[n],
                              **({"bytecode": self.bytecodes[n]} if n in self.bytecodes else {})}
                          for n in CONTRACT_NAMES},
        }

    def save(self, path: Path, *, rpc_url: str | None = None) -> None:
        """Write the file; `rpc_url` (where `swarm chain up` serves) is recorded for peers."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        data = self.to_json()
        if rpc_url:
            data["rpc"] = rpc_url
        tmp.write_text(json.dumps(data, indent=1) + "\n")
        os.replace(tmp, path)

    @classmethod
    def from_json(cls, data: object, where: str = "deployment") -> "Deployment":
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"not a {FORMAT} file")
            contracts = data["contracts"]
            return cls(
                chain_id=int(data["chain_id"]),
                block=int(data["block"]),
                params=Params(**data["params"]),
                addresses={n: Web3.to_checksum_address(contracts[n]["address"]) for n in CONTRACT_NAMES},
                abis={n: list(contracts[n]["abi"]) for n in CONTRACT_NAMES},
                bytecodes={n: str(contracts[n]["bytecode"]) for n in CONTRACT_NAMES if "bytecode" in contracts[n]},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ProtocolError(ChainReason.BAD_DEPLOYMENT, f"{where}: {exc}") from exc


def deployment_rpc_url(path: Path) -> str | None:
    """The JSON-RPC URL `swarm chain up` recorded in a deployment file, if any."""
    try:
        url = json.loads(Path(path).read_text()).get("rpc")
    except (OSError, ValueError, AttributeError) as exc:
        raise ProtocolError(ChainReason.BAD_DEPLOYMENT, f"cannot read {path}: {exc}") from exc
    return url if isinstance(url, str) else None


def load_deployment(path: Path, w3: Web3 | None = None) -> Deployment:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ProtocolError(ChainReason.BAD_DEPLOYMENT, f"cannot read {path}: {exc}") from exc
    deployment = Deployment.from_json(data, str(path))
    if w3 is not None:
        check_deployment(deployment, w3)
    return deployment


def check_deployment(deployment: Deployment, w3: Web3) -> None:
    chain_id = w3.eth.chain_id
    if chain_id != deployment.chain_id:
        raise ProtocolError(ChainReason.WRONG_CHAIN,
                            f"the deployment is for chain {deployment.chain_id}, the node is chain {chain_id}")
    for name, address in deployment.addresses.items():
        if not w3.eth.get_code(address):
            raise ProtocolError(ChainReason.NO_CONTRACT, f"no {name} contract at {address} on chain {chain_id}")


async def deploy(w3: Web3, worker: TxWorker, params: Params = Params(), *, treasury: str | None = None) -> Deployment:
    """Deploy Token, Registry, ClaimLedger and Game, wire them, fund the reward pool.

    The deployer's account (the worker's) is the treasury unless another is given; the
    reward pool is funded from it only in that case.
    """
    artifacts = load_artifacts()
    treasury = treasury or worker.address
    addresses: dict[str, str] = {}

    async def create(name: str, *args) -> str:
        art = artifacts[name]
        ctor = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(*args)
        result = await worker.transact(f"deploy {name}", ctor)
        addresses[name] = Web3.to_checksum_address(result.contract_address)
        return addresses[name]

    token = await create("Token", treasury)
    registry = await create("Registry", token, params.min_stake, params.unbonding_delay)
    ledger = await create("ClaimLedger", token, registry, params.challenge_window, params.reward_per_claim,
                          params.max_batch)
    game = await create("Game", token, registry, ledger, params.bond, params.min_stake, params.clock,
                        params.levels, params.winner_bps)
    contracts = {n: w3.eth.contract(address=addresses[n], abi=artifacts[n].abi) for n in CONTRACT_NAMES}
    await worker.transact("wire registry", contracts["Registry"].functions.set_game(game))
    result = await worker.transact("wire ledger", contracts["ClaimLedger"].functions.set_game(game))
    if treasury == worker.address and params.pool:
        await worker.transact("approve pool", contracts["Token"].functions.approve(ledger, params.pool))
        result = await worker.transact("fund pool", contracts["ClaimLedger"].functions.fund(params.pool))
    chain_id = await trio.to_thread.run_sync(lambda: w3.eth.chain_id)
    return Deployment(chain_id, result.block, params, addresses, {n: artifacts[n].abi for n in CONTRACT_NAMES},
                      {n: artifacts[n].bytecode for n in CONTRACT_NAMES})
