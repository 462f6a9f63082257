"""Registering the peer key and staking on the swarm's chain (`swarm join --stake`), only when
asked: `plan_stake` reads what would happen (balances, registration, current stake) so the
operator can confirm it; `execute_stake` sends the transactions.

Where the chain is: `--deployment FILE` (default $SWARM_HOME/chain/deployment.json, as
`swarm chain up` and the devnet write it, with the JSON-RPC URL inside) and `--rpc URL`
(default: the URL in that file, else config.toml's chain.rpc_url). An embedded chain lives
inside one process, so joining one is impossible: give the RPC URL of the chain the swarm uses.
Amounts are whole AI tokens (18 decimals on chain).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from swarmclient.errors import SwarmError
from swarmclient.home import Home

AI = 10**18
ZERO_KEY = bytes(32)


@dataclass(frozen=True)
class ChainTarget:
    rpc: str
    deployment: Path


def chain_target(home: Home, config: Any, rpc: str | None, deployment: str | None) -> ChainTarget:
    from protocol.chain.deployment import deployment_rpc_url

    path = Path(deployment) if deployment else home.root / "chain" / "deployment.json"
    if not path.exists():
        raise SwarmError(
            "no-deployment",
            f"{path} does not exist; pass --deployment FILE (the swarm's deployment.json, e.g. a devnet peer's "
            "chain/deployment.json) to stake",
        )
    url = rpc or deployment_rpc_url(path) or config.chain.rpc_url
    if not url:
        if config.chain.backend == "embedded":
            raise SwarmError(
                "no-chain",
                "chain.backend is embedded: an in-process chain nobody else sees; pass --rpc URL of the swarm's chain",
            )
        raise SwarmError("no-chain", "no JSON-RPC URL: pass --rpc URL or set chain.rpc_url in config.toml")
    return ChainTarget(url, path)


@dataclass(frozen=True)
class StakePlan:
    account: str
    chain_id: int
    rpc: str
    amount: int  # base units
    min_stake: int
    eth: int
    ai: int
    registered: bool
    staked: int

    @property
    def to_add(self) -> int:
        return max(0, self.amount - self.staked)

    def problems(self) -> list[str]:
        out = []
        if self.amount < self.min_stake:
            out.append(f"the chain's minimum stake is {self.min_stake / AI:g} AI")
        if self.eth == 0:
            out.append(f"{self.account} has no ETH for gas")
        if self.ai < self.to_add:
            out.append(f"{self.account} holds {self.ai / AI:g} AI, {self.to_add / AI:g} AI more are needed")
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "chain_id": self.chain_id,
            "rpc": self.rpc,
            "amount_ai": self.amount / AI,
            "min_stake_ai": self.min_stake / AI,
            "eth_wei": self.eth,
            "ai": self.ai / AI,
            "registered": self.registered,
            "staked_ai": self.staked / AI,
            "to_add_ai": self.to_add / AI,
        }


async def open_client(target: ChainTarget, identity: Any) -> Any:
    """A ChainClient for the identity's account (connection and deployment checked)."""
    from protocol.chain import ChainClient, load_deployment, open_chain

    chain = await trio.to_thread.run_sync(open_chain, "rpc", target.rpc)
    deployment = await trio.to_thread.run_sync(load_deployment, target.deployment, chain.w3)
    return ChainClient(chain.w3, deployment, identity.account)


async def plan_stake(client: Any, rpc: str, amount_ai: float) -> StakePlan:
    if not amount_ai > 0:
        raise SwarmError("bad-stake", f"--stake {amount_ai}: give a positive number of AI tokens")
    address = client.address
    stake = await client.registry.stake_of(address)
    key = await client.registry.peer_key_of(address)
    eth = await trio.to_thread.run_sync(client.w3.eth.get_balance, address)
    return StakePlan(
        account=address,
        chain_id=client.deployment.chain_id,
        rpc=rpc,
        amount=int(round(amount_ai * AI)),
        min_stake=client.deployment.params.min_stake,
        eth=int(eth),
        ai=await client.token.balance_of(address),
        registered=key != ZERO_KEY,
        staked=int(stake["staked"]),
    )


async def execute_stake(client: Any, identity: Any, plan: StakePlan) -> dict[str, Any]:
    """Register the peer key (once), then approve and stake what is missing. The caller runs
    `client.worker.serve` in its nursery."""
    from protocol.chain import binding_message

    problems = plan.problems()
    if problems:
        raise SwarmError("cannot-stake", "; ".join(problems))
    sent: dict[str, Any] = {}
    if not plan.registered:
        message = binding_message(plan.chain_id, client.registry.address, client.address)
        signature = identity.keypair.private_key.sign(message)
        sent["register"] = (await client.registry.register(identity.keypair.public_key.to_bytes(), signature)).tx_hash
    if plan.to_add:
        sent["approve"] = (await client.token.approve(client.registry.address, plan.to_add)).tx_hash
        sent["stake"] = (await client.registry.stake(plan.to_add)).tx_hash
    after = await client.registry.stake_of(client.address)
    return {"transactions": {k: _hex(v) for k, v in sent.items()}, "staked_ai": int(after["staked"]) / AI}


def _hex(value: Any) -> str:
    return value.hex() if isinstance(value, (bytes, bytearray)) else str(value)


__all__ = ["AI", "ChainTarget", "StakePlan", "chain_target", "execute_stake", "open_client", "plan_stake"]
