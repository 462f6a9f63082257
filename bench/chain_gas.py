"""Chain benchmark: gas per protocol operation (claims, staking, opening and timing out a
game, finalizing) and transaction latency on the embedded chain, the embedded chain served over
JSON-RPC (`swarm chain up`) and anvil.

    .venv/bin/python -m bench.chain_gas [--json] [--no-anvil] [--latency-txs 20]

Gas is deterministic; latency is the median over `--latency-txs` ERC-20 approvals sent through
the transaction worker (estimate, sign, send, receipt).

Whole Verde games over real training steps (every level bisected to a proven element) are
measured by `bench.verde_gas`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import trio
from eth_account import Account

from protocol.chain import ChainClient, Params, TxWorker, deploy, open_chain
from protocol.chain.commit import Claim
from protocol.chain.rpc_server import serve_embedded
from protocol.chain.selftest import register_and_stake

PARAMS = Params()  # the defaults a real deployment uses (max batch 4,096)


async def _clients(chain, n: int):
    accounts = [Account.create() for _ in range(n + 1)]
    for account in accounts:
        await trio.to_thread.run_sync(chain.fund, account.address, 100 * 10**18)
    return accounts


async def measure_gas(chain) -> dict:
    gas: dict[str, int] = {}
    deployer, claimant_acct, challenger_acct = await _clients(chain, 2)
    async with trio.open_nursery() as nursery:
        worker = TxWorker(chain.w3, deployer)
        await nursery.start(worker.serve)
        deployment = await deploy(chain.w3, worker, PARAMS)
        treasury, claimant, challenger = (ChainClient(chain.w3, deployment, a) for a in (deployer, claimant_acct, challenger_acct))
        for c in (treasury, claimant, challenger):
            await nursery.start(c.worker.serve)
        for c in (claimant, challenger):
            await treasury.token.transfer(c.address, 100_000 * 10**18)
        steps: dict[str, list[int]] = {}

        def log(result) -> None:
            steps.setdefault(result.label.split(".", 1)[1], []).append(result.gas_used)

        await register_and_stake(claimant, await trio.to_thread.run_sync(lambda: chain.chain_id), 5 * PARAMS.min_stake, log)
        await challenger.token.approve(challenger.game.address, 10 * PARAMS.bond)

        # single and batched claims
        one = Claim(claimant.address, 1, b"\1" * 32, b"\2" * 32, b"\3" * 32, b"\4" * 32, 4)
        log(await claimant.ledger.post_claim(one))
        batch = [Claim(claimant.address, r, r.to_bytes(32, "big"), b"\2" * 32, b"\3" * 32, b"\4" * 32, 4) for r in range(2, 1026)]
        log(await claimant.ledger.post_batch(1, batch))

        # resolution by timeout (the claimant goes silent), and a reward payout
        silent = Claim(claimant.address, 3, b"\7" * 32, b"\2" * 32, b"\3" * 32, b"\4" * 32, 4)
        await claimant.ledger.post_claim(silent)
        opened = await challenger.game.open(silent)
        log(opened)
        silent_id = opened.event("GameOpened")["game_id"]
        await trio.to_thread.run_sync(chain.increase_time, PARAMS.clock + 1)
        log(await challenger.game.timeout(silent_id))
        await trio.to_thread.run_sync(chain.increase_time, PARAMS.challenge_window)
        log(await claimant.ledger.finalize(one.leaf()))
        nursery.cancel_scope.cancel()

    summary = {name: (max(v) if name in ("open", "prove_step") else round(statistics.mean(v))) for name, v in steps.items()}
    return {
        "per_operation": summary,
        "per_operation_max": {name: max(v) for name, v in steps.items()},
        "batch_claims": len(batch),
    }


async def measure_latency(chain, txs: int) -> float:
    (deployer,) = await _clients(chain, 0)
    async with trio.open_nursery() as nursery:
        worker = TxWorker(chain.w3, deployer)
        await nursery.start(worker.serve)
        deployment = await deploy(chain.w3, worker, PARAMS)
        client = ChainClient(chain.w3, deployment, deployer)
        await nursery.start(client.worker.serve)
        times = []
        for i in range(txs):
            started = time.perf_counter()
            await client.token.approve(deployer.address, i + 1)
            times.append(time.perf_counter() - started)
        nursery.cancel_scope.cancel()
    return statistics.median(times) * 1000


async def served_latency(txs: int) -> float:
    embedded = open_chain("embedded")
    async with trio.open_nursery() as nursery:
        port = await nursery.start(lambda task_status: serve_embedded(embedded.w3, port=0, task_status=task_status))
        remote = await trio.to_thread.run_sync(open_chain, "rpc", f"http://127.0.0.1:{port}")
        result = await measure_latency(remote, txs)
        nursery.cancel_scope.cancel()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-anvil", action="store_true")
    parser.add_argument("--latency-txs", type=int, default=20)
    args = parser.parse_args()
    chain = open_chain("embedded")
    report = trio.run(measure_gas, chain)
    latency = {"embedded": trio.run(measure_latency, open_chain("embedded"), args.latency_txs),
               "embedded_json_rpc": trio.run(served_latency, args.latency_txs)}
    if not args.no_anvil:
        anvil = open_chain("anvil")
        try:
            latency["anvil"] = trio.run(measure_latency, anvil, args.latency_txs)
        finally:
            anvil.close()
    report["tx_latency_ms"] = {k: round(v, 2) for k, v in latency.items()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, value in report["per_operation"].items():
        print(f"{name:<18} {value:>10,d} gas")
    for name, value in report["tx_latency_ms"].items():
        print(f"tx latency {name:<18} {value:8.2f} ms")


if __name__ == "__main__":
    main()
