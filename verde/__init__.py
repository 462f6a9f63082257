"""Verde: re-execute RepOps claims and play the dispute game on the chain (docs/verde.md).

Public API (for the runtime):

    execution = verde.execute(ckpt_before_tensors, batch, hparams, steps=claim.steps)  # torch
    verdict = verde.check_claim(claim, execution)        # .matches, .why
    dispute = verde.locate(execution, claimants_exec)    # step/op/slot/element, .provable
    await verde.ensure_stepper(client)                   # once per Game (anyone may)
    challenger = verde.Challenger(client, execution, fetch_tensor=fetch)   # fetch(root) -> tensor
    game_id = await challenger.open(claim, batch_ref)    # only when the dispute is provable
    claimant = verde.Claimant(client, execution)
    claimant.watch(game_id, claim)                       # on GameOpened against our claim
    record = await claimant.step(game_id)                # one move if it is our turn -> GameRecord
    await nursery.start(challenger.serve, game_id)       # or loop step() until record.done
    player.resume(verde.GameRecord.from_dict(record.to_dict()))   # persistence / restart

Chain calls go through protocol.chain.ChainClient (async; web3 runs in worker threads).
Torch work (execute) is synchronous: run it in trio.to_thread.run_sync.
"""

from verde.check import Dispute, Verdict, check_claim, locate
from verde.errors import VerdeError
from verde.execution import Execution, StepTrace, execute
from verde.faults import Fault, lie
from verde.machine import GameRecord, Phase
from verde.players import Challenger, Claimant
from verde.stepper import ensure_stepper

__all__ = ["Challenger", "Claimant", "Dispute", "Execution", "Fault", "GameRecord", "Phase", "StepTrace", "Verdict",
           "VerdeError", "check_claim", "ensure_stepper", "execute", "lie", "locate"]
