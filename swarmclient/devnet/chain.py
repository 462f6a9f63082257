"""The devnet's chain: one embedded py-evm chain in the devnet process, shared with its peer
processes over JSON-RPC (protocol.chain.rpc_server, as `swarm chain up` does).

Before any peer starts: deploy the contracts with short devnet windows and clocks, give every
peer's account gas money and AI tokens from the treasury, then serve the chain on a free
127.0.0.1 port and write each peer's `chain/deployment.json` (with the URL) and
`chain/verify.json` (its sample rate, stake and, for a cheater, its fault). Each peer
registers and stakes itself at start (swarmclient.verify). Deploying and funding happen
before serving because py-evm is not thread-safe: afterwards only the server touches it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio

from swarmclient.devnet.layout import PeerSpec
from swarmclient.errors import SwarmError

AI = 10**18
PEER_ETH = 10 * 10**18
PEER_AI = 10_000
# The served chain mines one block per BLOCK_SECONDS with every transaction sent meanwhile,
# like a real chain. Mining a block per transaction (eth-tester's default) would push the
# chain's clock ahead of the wall clock under load, because every block must be at least a
# second after its parent: windows and game clocks would then run fast.
BLOCK_SECONDS = 1.0
MINE_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class ChainOptions:
    # Seconds to dispute a claim: long enough for every watcher to fetch and re-execute a
    # claim on a loaded laptop, short enough that a run ends soon after its last round.
    challenge_window: int = 60
    # Each side's total thinking time in one game: a Verde game is a dozen moves, each a
    # block away and slower on a loaded machine; an honest side must never run out.
    clock: int = 90
    sample_rate: float = 1.0  # devnet watchers check every claim
    stake_ai: int = 3_000
    cheaters: int = 0  # the last K peers inject a fault
    fault: str = "corrupt-update"


@dataclass
class DevnetChain:
    url: str
    deployment: Any
    chain: Any
    cheaters: tuple[int, ...]
    verde: str = ""  # how games are played: Verde's levels, or why only level 1

    def to_json(self) -> dict[str, Any]:
        d = self.deployment
        return {"rpc": self.url, "chain_id": d.chain_id, "addresses": d.addresses,
                "params": {"challenge_window": d.params.challenge_window, "clock": d.params.clock,
                           "min_stake": str(d.params.min_stake), "bond": str(d.params.bond),
                           "reward_per_claim": str(d.params.reward_per_claim)},
                "cheaters": list(self.cheaters), "games_played_by": self.verde}


def devnet_params(options: ChainOptions) -> Any:
    from protocol.chain import Params

    # The unbonding delay must outlast the challenge window (docs/contracts.md).
    return Params(min_stake=1_000 * AI, unbonding_delay=max(3600, 4 * options.challenge_window),
                  challenge_window=options.challenge_window, reward_per_claim=10 * AI, max_batch=4096,
                  bond=500 * AI, clock=options.clock, levels=3, winner_bps=5_000, pool=1_000_000 * AI)


def cheater_indices(peers: int, cheaters: int) -> tuple[int, ...]:
    """The last K peers cheat; peer 0 (everyone's bootstrap) stays honest while K < N."""
    if not 0 <= cheaters < peers:
        raise SwarmError("bad-devnet", f"--cheaters {cheaters} needs at least one honest peer among {peers}")
    return tuple(range(peers - cheaters, peers))


async def start_chain(nursery: trio.Nursery, specs: list[PeerSpec], options: ChainOptions) -> DevnetChain:
    """Deploy, fund, serve (a task in `nursery`, cancelled with it) and write the peers' files."""
    from eth_account import Account

    from protocol.chain import TxWorker, deploy, open_chain
    from protocol.chain.client import ChainClient
    from protocol.chain.rpc_server import serve_embedded
    from protocol.errors import ProtocolError
    from swarmclient import identity as identity_mod
    from swarmclient.verify import settings as verify_settings

    cheaters = cheater_indices(len(specs), options.cheaters)
    fault = verify_settings.Fault(options.fault)
    chain = await trio.to_thread.run_sync(open_chain, "embedded")
    deployer = Account.create()
    accounts = [identity_mod.load(spec.home).address for spec in specs]
    try:
        await trio.to_thread.run_sync(chain.fund, deployer.address, PEER_ETH)
        for address in accounts:
            await trio.to_thread.run_sync(chain.fund, address, PEER_ETH)
        async with trio.open_nursery() as setup:
            worker = TxWorker(chain.w3, deployer)
            await setup.start(worker.serve)
            deployment = await deploy(chain.w3, worker, devnet_params(options))
            treasury = ChainClient(chain.w3, deployment, deployer)
            await setup.start(treasury.worker.serve)
            for address in accounts:
                await treasury.token.transfer(address, PEER_AI * AI)
            verde_note = await _install_stepper(treasury)
            setup.cancel_scope.cancel()
    except ProtocolError as exc:
        raise SwarmError(f"chain-{exc.reason.value}", exc.detail) from None
    chain.w3.provider.ethereum_tester.disable_auto_mine_transactions()
    port = await nursery.start(lambda task_status: serve_embedded(chain.w3, port=0, task_status=task_status))
    url = f"http://127.0.0.1:{port}"
    await nursery.start(produce_blocks, url)
    for spec in specs:
        deployment.save(verify_settings.chain_dir(spec.home) / "deployment.json", rpc_url=url)
        verify_settings.write(spec.home, sample_rate=options.sample_rate, stake_ai=options.stake_ai,
                              fault=fault if spec.index in cheaters else verify_settings.Fault.NONE)
    return DevnetChain(url, deployment, chain, cheaters, verde_note)


async def _install_stepper(treasury: Any) -> str:
    """Install Verde's one-step machines in the Game once, at deployment (anyone may, the Game
    pins their code), so no watcher spends its challenge window on it. Without them peers play
    level 1 only and a claimant that must descend runs out of clock."""
    from protocol.errors import ProtocolError
    from swarmclient.verify import verde_link

    if not verde_link.available(treasury.deployment):
        return "level 1 only (Verde is not importable or the Game has no op-level moves)"
    try:
        import verde

        await verde.ensure_stepper(treasury)
    except (ProtocolError, ImportError, AttributeError, OSError) as exc:
        return f"level 1 only (Verde's stepper could not be installed: {exc})"
    return "Verde (all levels)"


async def produce_blocks(url: str, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Mine a block every BLOCK_SECONDS through the server (which serialises py-evm access)."""
    from protocol.chain.backends import rpc_web3

    import requests

    # A block full of registrations (Ed25519 checked in EVM code) takes py-evm seconds on a
    # loaded machine: wait for it rather than give up.
    w3 = await trio.to_thread.run_sync(lambda: rpc_web3(url, timeout=MINE_TIMEOUT_S))
    task_status.started()
    while True:
        started = trio.current_time()
        try:
            await trio.to_thread.run_sync(w3.provider.make_request, "evm_mine", [])
        except (requests.RequestException, OSError, ValueError):
            pass  # the next tick tries again; transactions wait in the pending block meanwhile
        await trio.sleep(max(0.0, BLOCK_SECONDS - (trio.current_time() - started)))


def clear_chain_files(specs: list[PeerSpec]) -> None:
    """A devnet run without a chain must not find last run's deployment in the homes."""
    from swarmclient.verify import settings as verify_settings

    for spec in specs:
        for name in ("deployment.json", verify_settings.SETTINGS_FILE):
            Path(verify_settings.chain_dir(spec.home) / name).unlink(missing_ok=True)


__all__ = ["ChainOptions", "DevnetChain", "cheater_indices", "clear_chain_files", "devnet_params", "produce_blocks", "start_chain"]
