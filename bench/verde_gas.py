"""Verde gas: whole games over a real RepOps training step, one per kind of cheat, on the
embedded chain, with gas per move and per side.

    .venv/bin/python -m bench.verde_gas [--json] [--d-model 8] [--layers 1] [--steps 1]

The claim is `--steps` training steps of a policy of the given size (context 8, batch 2x6).
Games: a corrupted element of a `linear` (matmul program, level 3 bisected), of an `adamw`
moment, of a residual `add`; a wrong checkpoint after (the assembly proof); and a griefing
challenger against an honest claim (the claimant's assembly proof). Gas is deterministic.
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import trio
from eth_account import Account

from protocol.chain import AI, ChainClient, TxWorker, deploy, open_chain
from protocol.chain.commit import Claim
from protocol.chain.selftest import SELFTEST_PARAMS, register_and_stake
from repops.model import Policy, PolicyConfig
from repops.step import Batch, StepConfig, make_optimizer, state_tensors
from verde import Challenger, Claimant, Fault, ensure_stepper, execute, lie


def _inputs(d_model: int, layers: int):
    cfg = PolicyConfig(context=8, d_model=d_model, n_layer=layers, n_head=2, d_mlp=2 * d_model)
    hp = StepConfig(model=cfg, lr=1e-2, weight_decay=0.01)
    model = Policy(cfg)
    ckpt = {k: v.clone() for k, v in state_tensors(model, make_optimizer(model, hp)).items()}
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(1, cfg.vocab_size, (2, 6), generator=g)
    targets = torch.randint(1, cfg.vocab_size, (2, 6), generator=g)
    batch = Batch(tokens, targets, torch.ones(2, 6), torch.tensor([1.0, -0.5]))
    return ckpt, batch, hp


def _first(execution, name: str) -> int:
    return next(i for i, op in enumerate(execution.steps[0].ops) if op.record.op == name)


async def run(d_model: int, layers: int, steps: int) -> dict:
    ckpt, batch, hp = _inputs(d_model, layers)
    started = time.perf_counter()
    honest = await trio.to_thread.run_sync(lambda: execute(ckpt, batch, hp, steps))
    execute_s = time.perf_counter() - started
    cases = {
        "corrupt linear element": (lie(honest, Fault.CORRUPT_ELEMENT, op=_first(honest, "linear"), element=3), honest),
        "corrupt adamw moment": (lie(honest, Fault.CORRUPT_ELEMENT, op=_first(honest, "adamw"), slot=2), honest),
        "corrupt residual add": (lie(honest, Fault.CORRUPT_ELEMENT, op=_first(honest, "add"), element=1), honest),
        "wrong checkpoint after": (lie(honest, Fault.WRONG_CKPT_AFTER), honest),
        "griefing challenger": (honest, lie(honest, Fault.WRONG_CKPT_AFTER)),
    }
    chain = open_chain("embedded")
    out: dict = {"ops_per_step": len(honest.steps[0].ops), "execute_s": round(execute_s, 2), "games": {}}
    accounts = [Account.create() for _ in range(3)]
    for a in accounts:
        chain.fund(a.address, 100 * 10**18)
    async with trio.open_nursery() as nursery:
        worker = TxWorker(chain.w3, accounts[0])
        await nursery.start(worker.serve)
        deployment = await deploy(chain.w3, worker, SELFTEST_PARAMS)
        treasury, alice, bob = (ChainClient(chain.w3, deployment, a) for a in accounts)
        for c in (treasury, alice, bob):
            await nursery.start(c.worker.serve)
        for c in (alice, bob):
            await treasury.token.transfer(c.address, 100_000 * AI)
        await register_and_stake(alice, chain.w3.eth.chain_id, 10 * SELFTEST_PARAMS.min_stake)
        await bob.token.approve(bob.game.address, 100 * SELFTEST_PARAMS.bond)
        await ensure_stepper(bob)
        for round_, (label, (claimant_exec, challenger_exec)) in enumerate(cases.items(), start=1):
            claim = Claim(alice.address, round_, b"\1" * 32, b"\2" * 32, claimant_exec.ckpt_before,
                          claimant_exec.ckpt_after, steps)
            await alice.ledger.post_claim(claim)
            challenger = Challenger(bob, challenger_exec, fetch_tensor=claimant_exec.tensor)
            claimant = Claimant(alice, claimant_exec)
            game_id = await challenger.open(claim)
            claimant.watch(game_id, claim)
            t0 = time.perf_counter()
            for _ in range(100):
                a = await claimant.step(game_id)
                b = await challenger.step(game_id)
                if a.done and b.done:
                    break
                if a.notes and "waiting" in a.notes[-1]:
                    chain.increase_time(SELFTEST_PARAMS.clock + 1)
            out["games"][label] = {
                "winner": "claimant" if a.outcome == "won" else "challenger",
                "claimant_gas": a.gas, "challenger_gas": b.gas, "total_gas": a.gas + b.gas,
                "moves": a.moves + b.moves, "seconds": round(time.perf_counter() - t0, 2),
            }
        nursery.cancel_scope.cancel()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--d-model", type=int, default=8)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--steps", type=int, default=1)
    args = parser.parse_args()
    result = trio.run(run, args.d_model, args.layers, args.steps)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['ops_per_step']} ops per step; re-execution {result['execute_s']} s")
    print(f"{'game':28} {'winner':11} {'claimant gas':>13} {'challenger gas':>15} {'total':>10} {'moves':>6}")
    for label, g in result["games"].items():
        print(f"{label:28} {g['winner']:11} {g['claimant_gas']:>13,} {g['challenger_gas']:>15,} {g['total_gas']:>10,} "
              f"{g['moves']:>6}")


if __name__ == "__main__":
    main()
