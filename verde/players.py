"""The two players of a Verde game on the chain: `Claimant` and `Challenger`.

Each `step(game_id)` reads the game's chain view, advances the local GameRecord through the
transition table (verde/machine.py) and makes at most one move, chosen by the pure functions
of verde/strategy.py from the player's own Execution. `serve` repeats it until the game ends.
Both also call `timeout` when the other side's clock has run out.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import trio

from protocol.chain.client import BatchRef, ChainClient
from protocol.chain.commit import Claim, Plan
from protocol.chain.position import is_leaf
from protocol.chain.reasons import ChainReason
from protocol.errors import ProtocolError
from verde import opmachine, strategy
from verde.errors import VerdeError
from verde.execution import Execution, OpData, bits, element_opening, head, values
from verde.machine import GameRecord, Phase, advance, phase_of
from verde.stepper import ensure_stepper


def _record_tuple(op: OpData) -> tuple:
    r = op.record
    return (r.index, r.op.encode("ascii"), list(r.input_roots), list(r.output_roots), r.attrs_digest)


def _shapes(tensors) -> list[tuple[int, ...]]:
    return [tuple(t.shape) for t in tensors]


class _Player:
    role = ""

    def __init__(self, client: ChainClient, execution: Execution) -> None:
        self.client = client
        self.execution = execution
        self.records: dict[int, GameRecord] = {}
        self._runs: dict[tuple, opmachine.ElementRun] = {}

    # --- chain access --------------------------------------------------------------------
    @property
    def _game(self) -> Any:
        return self.client.game.contract

    async def _call(self, fn: Any) -> Any:
        return await trio.to_thread.run_sync(fn.call)

    async def _send(self, record: GameRecord, label: str, fn: Any) -> None:
        try:
            result = await self.client.worker.transact(f"Game.{label}", fn)
        except ProtocolError as exc:
            # Anyone may send prove_step or timeout, so the other side's proof can resolve
            # the game between our read and our transaction (seen in a full test run). Not a
            # failure: the next step() reads the resolution from the chain.
            if exc.reason is ChainReason.GAME_NOT_OPEN:
                record.notes.append(f"{label}: the game was resolved first")
                return
            raise
        record.moves += 1
        record.gas += result.gas_used

    async def _revealed(self, game_id: int) -> list[bytes]:
        """The points of the last Revealed event of this game."""
        event = self._game.events.Revealed()
        logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
        if not logs:
            raise VerdeError("no_reveal", f"game {game_id} has no reveal to answer")
        return [bytes(p) for p in logs[-1]["args"]["points"]]

    async def _picked(self, game_id: int) -> tuple[int, int, int]:
        event = self._game.events.ElementPicked()
        logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
        if not logs:
            raise VerdeError("no_pick", f"game {game_id} has no picked element")
        a = logs[-1]["args"]
        return a["slot"], a["element"], a["claimed"]

    async def _opened_record(self, game_id: int) -> tuple:
        """The op record the claimant opened (decoded from its open_op transaction)."""
        event = self._game.events.OpOpened()
        logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
        if not logs:
            raise VerdeError("no_op", f"game {game_id} has no opened op")
        w3 = self.client.w3
        tx = await trio.to_thread.run_sync(w3.eth.get_transaction, logs[-1]["transactionHash"])
        _, args = self._game.decode_function_input(tx["input"])
        r = args["record"]
        if isinstance(r, dict):
            r = (r["index"], r["name"], r["inputs"], r["outputs"], r["attrs_digest"])
        return (int(r[0]), bytes(r[1]).decode("ascii"), [bytes(x) for x in r[2]], [bytes(x) for x in r[3]], bytes(r[4]))

    async def _descended_step(self, game_id: int) -> int:
        """The level-1 transition the game descended from (the last Chosen range at level 1,
        or step 0 for a one-step claim)."""
        event = self._game.events.Chosen()
        logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
        level1 = [log["args"] for log in logs if log["args"]["level"] == 1]
        return level1[-1]["lo"] if level1 else 0

    async def _opened_index(self, game_id: int) -> int:
        event = self._game.events.OpOpened()
        logs = await trio.to_thread.run_sync(lambda: event.get_logs(from_block=0, argument_filters={"game_id": game_id}))
        if not logs:
            raise VerdeError("no_op", f"game {game_id} has no opened op")
        return logs[-1]["args"]["index"]

    async def _recover(self, record: GameRecord) -> None:
        """Fill in what a record persisted before its last move may lack, from the chain's events."""
        if record.phase is not Phase.STEPS and record.step is None:
            record.step = await self._descended_step(record.game_id)
        if record.phase in (Phase.PICKING, Phase.ELEMENT) and record.op is None:
            record.op = await self._opened_index(record.game_id)
        if record.phase is Phase.ELEMENT and record.slot is None:
            record.slot, record.element, _ = await self._picked(record.game_id)

    # --- shared ----------------------------------------------------------------------------
    def resume(self, record: GameRecord) -> None:
        """Adopt a persisted record (after a restart); the next step() re-reads the chain."""
        if record.role != self.role:
            raise VerdeError("bad_record", f"a {record.role} record given to a {self.role}")
        self.records[record.game_id] = record

    def _own_hash(self, record: GameRecord, level: int) -> Callable[[int], bytes]:
        if level == 1:
            return self.execution.level1_hash
        if level == 2:
            return self.execution.steps[record.step].hash_at
        run = self._element_run(record)
        claimed = self._claimed_value(record)
        return lambda p: run.state(p, claimed)

    def _claimed_value(self, record: GameRecord) -> int | None:
        return None

    def _element_run(self, record: GameRecord) -> opmachine.ElementRun:
        key = (record.step, record.op, record.slot, record.element)
        if key not in self._runs:
            op = self.execution.steps[record.step].ops[record.op]
            plan = self._plan(op, record.slot, record.element)
            ins = [values(t) for t in op.inputs]
            # the context binds the record the claimant opened on-chain (for the challenger, not its own)
            opened = bytes.fromhex(record.opened) if record.opened else op.hash
            self._runs[key] = opmachine.run(plan, opened, record.element,
                                            opmachine.reader(plan, op.record.input_roots, ins))
        return self._runs[key]

    @staticmethod
    def _plan(op: OpData, slot: int, element: int) -> Plan:
        plan = opmachine.plan_for(op.record.op, op.record.input_roots, _shapes(op.inputs), _shapes(op.outputs),
                                  slot, element, op.attrs)
        if plan is None:
            raise VerdeError("malformed_op", f"op {op.record.index} ({op.record.op}) has shapes its kind does not allow")
        return plan

    def _prove(self, record: GameRecord, pc: int) -> Any:
        """The Game call that settles instruction pc (prove_step, or prove_copy for copies)."""
        run = self._element_run(record)
        op = self.execution.steps[record.step].ops[record.op]
        roots = op.record.input_roots
        if run.plan.kind in opmachine.COPIES:
            ins = [values(t) for t in op.inputs]
            where = opmachine.copy_operands(run.plan, opmachine.reader(run.plan, roots, ins))
        else:
            where = opmachine.operands_at(run.plan, pc)
        operands = [element_opening(op.inputs[opmachine.input_of(run.plan, roots, slot)], index) for slot, index in where]
        proof = (run.plan.as_tuple(), run.record, run.element, pc, list(run.regs[pc]), operands)
        fns = self._game.functions
        return fns.prove_copy(record.game_id, proof) if run.plan.kind in opmachine.COPIES else fns.prove_step(record.game_id, proof)

    async def _observe(self, game_id: int) -> tuple[GameRecord, Any, tuple]:
        record = self.records[game_id]
        view = await self.client.game.game(game_id)
        extra = await self._call(self._game.functions.verde_state(game_id))
        observed = phase_of(view.status, view.level, extra[0])
        record.phase = advance(record.phase, observed)
        if extra[2] != b"\0" * 32:
            record.opened = bytes(extra[2]).hex()
        if record.done and record.outcome is None:
            won = (record.phase is Phase.CLAIMANT_WON) == (self.role == "claimant")
            record.outcome = "won" if won else "lost"
        if not record.done:
            await self._recover(record)
        return record, view, extra

    async def _maybe_timeout(self, record: GameRecord, view: Any) -> bool:
        clocks = await self.client.game.clocks(record.game_id)
        if clocks["turn"] == self.role:
            return False
        left = clocks["claimant_left"] if clocks["turn"] == "claimant" else clocks["challenger_left"]
        if strategy.timed_out(left, clocks["since_last_move"]):
            await self._send(record, "timeout", self._game.functions.timeout(record.game_id))
            return True
        return False

    async def serve(self, game_id: int, *, poll: float = 0.2, task_status=trio.TASK_STATUS_IGNORED) -> GameRecord:
        """Play until the game resolves (call after `open`/`watch`)."""
        task_status.started()
        while True:
            record = await self.step(game_id)
            if record.done:
                return record
            await trio.sleep(poll)

    async def step(self, game_id: int) -> GameRecord:
        raise NotImplementedError


class Claimant(_Player):
    """Defends the claim computed by `execution` (honest, or a lying one in tests)."""

    role = "claimant"

    def watch(self, game_id: int, claim: Claim) -> GameRecord:
        """Start tracking a game opened against one of our claims (GameOpened event)."""
        record = self.records.setdefault(game_id, GameRecord(game_id, self.role, claim))
        return record

    async def games_against(self, claim: Claim) -> list[int]:
        """Ids of the games opened against `claim` (GameOpened events with its leaf)."""
        event = self._game.events.GameOpened()
        logs = await trio.to_thread.run_sync(
            lambda: event.get_logs(from_block=0, argument_filters={"claimant": self.client.address}))
        return [log["args"]["game_id"] for log in logs if bytes(log["args"]["leaf"]) == claim.leaf()]

    def _claimed_value(self, record: GameRecord) -> int | None:
        op = self.execution.steps[record.step].ops[record.op]
        return int(bits(op.outputs[record.slot])[record.element])

    def _own_hash(self, record: GameRecord, level: int) -> Callable[[int], bytes]:
        honest = super()._own_hash(record, level)
        overrides = self.execution.reveal_overrides
        key_step = record.step if level >= 2 else None
        return lambda p: overrides.get((level, key_step, p)) or honest(p)

    async def step(self, game_id: int) -> GameRecord:
        record, view, (stage, size, _) = await self._observe(game_id)
        if record.done or await self._maybe_timeout(record, view) or view.turn != "claimant":
            return record
        gid, lo, hi = game_id, view.lo, view.hi
        fns = self._game.functions
        if record.phase is Phase.STEPS:
            if not is_leaf(lo, hi):
                points = strategy.reveal_points(lo, hi, self._own_hash(record, 1))
                await self._send(record, "reveal", fns.reveal(gid, points))
                return record
            record.step = lo
            trace = self.execution.steps[lo]
            points = strategy.reveal_points(0, trace.length, self._own_hash(record, 2)) if trace.length > 1 else []
            await self._send(record, "descend", fns.descend(gid, trace.length, points))
            return record
        if record.phase is Phase.OPS:
            if not is_leaf(lo, hi):
                await self._send(record, "reveal", fns.reveal(gid, strategy.reveal_points(lo, hi, self._own_hash(record, 2))))
                return record
            trace = self.execution.steps[record.step]
            if hi == trace.length:
                # The checkpoint assembly: provable iff our records rebuild our claimed checkpoint.
                if trace.assembled() != self._own_hash(record, 2)(hi):
                    record.notes.append("assembly transition: our records do not give our checkpoint, waiting")
                    return record
                await self._send(record, "prove_assembly", fns.prove_assembly(gid, *trace.assembly_args()))
                return record
            op = trace.ops[lo]
            record.op = lo
            base = trace.ckpt_before
            acc = trace.acc_root(lo)
            try:
                await self._send(record, "open_op", fns.open_op(gid, _record_tuple(op), base, acc, trace.acc_path(lo)))
            except ProtocolError as exc:
                # our own disputed hash is not an append of our record (a lie we cannot back)
                record.notes.append(f"cannot open op {lo} ({exc.reason.value}): waiting")
            return record
        if record.phase is Phase.ELEMENT:
            if not is_leaf(lo, hi):
                await self._send(record, "reveal", fns.reveal(gid, strategy.reveal_points(lo, hi, self._own_hash(record, 3))))
                return record
            try:
                await self._send(record, "prove_step", self._prove(record, lo))
            except ProtocolError as exc:
                record.notes.append(f"prove_step failed: {exc}")
        return record


class Challenger(_Player):
    """Disputes a claim from an honest re-execution. `fetch_tensor(root)` returns the
    claimant's tensor with that root (data availability: the runtime fetches it from the
    claimant over /swarm/trace/1), or None."""

    role = "challenger"

    def __init__(self, client: ChainClient, execution: Execution,
                 fetch_tensor: Callable[[bytes], torch.Tensor | None] = lambda root: None) -> None:
        super().__init__(client, execution)
        self.fetch_tensor = fetch_tensor

    async def open(self, claim: Claim, batch: BatchRef | None = None) -> int:
        """Post the bond and open a game against `claim` (approve the bond first)."""
        await ensure_stepper(self.client)
        result = await self.client.game.open(claim, batch)
        game_id = result.event("GameOpened")["game_id"]
        record = GameRecord(game_id, self.role, claim, moves=1, gas=result.gas_used)
        self.records[game_id] = record
        return game_id

    async def step(self, game_id: int) -> GameRecord:
        record, view, (stage, size, _) = await self._observe(game_id)
        if record.done or await self._maybe_timeout(record, view):
            return record
        gid, lo, hi = game_id, view.lo, view.hi
        fns = self._game.functions
        if view.turn == "claimant":
            # Anyone may settle level 3's last transition; do it when the claimant's own
            # claimed successor is not the true one (it would not prove a losing step).
            if record.phase is Phase.OPS and is_leaf(lo, hi) and record.step is not None:
                trace = self.execution.steps[record.step]
                if hi == size and trace.assembled() != view.h_hi:
                    await self._send(record, "prove_assembly", fns.prove_assembly(gid, *trace.assembly_args()))
                return record
            if record.phase is Phase.ELEMENT and is_leaf(lo, hi) and record.slot is not None:
                if self._own_hash(record, 3)(hi) != view.h_hi:
                    await self._send(record, "prove_step", self._prove(record, lo))
            return record
        if record.phase in (Phase.STEPS, Phase.OPS, Phase.ELEMENT):
            revealed = await self._revealed(game_id)
            part = strategy.disputed_part(lo, hi, revealed, self._own_hash(record, {Phase.STEPS: 1, Phase.OPS: 2, Phase.ELEMENT: 3}[record.phase]))
            await self._send(record, "choose", fns.choose(gid, part, revealed))
            return record
        if record.phase is Phase.PICKING:
            await self._pick(record, lo)
        return record

    async def _pick(self, record: GameRecord, index: int) -> None:
        ours = self.execution.steps[record.step].ops[index]
        idx, name, inputs, outputs, digest = await self._opened_record(record.game_id)
        mine = ours.record
        if (name, tuple(inputs), digest) != (mine.op, mine.input_roots, mine.attrs_digest) or len(outputs) != len(mine.output_roots):
            raise VerdeError("unprovable_dispute", f"op {index}: the claimant's record differs in kind, inputs or attrs "
                             "(wiring is not provable on-chain; docs/verde.md)")
        for slot, (theirs_root, our_root) in enumerate(zip(outputs, mine.output_roots)):
            if theirs_root == our_root:
                continue
            theirs = self.fetch_tensor(theirs_root)
            if theirs is None:
                raise VerdeError("unavailable", f"the claimant's output {theirs_root.hex()[:16]} was not served")
            if head(theirs)[0] != head(ours.outputs[slot])[0]:
                element = 0
            else:
                element = strategy.first_difference(bits(ours.outputs[slot]).tolist(), bits(theirs).tolist())
                if element is None:
                    raise VerdeError("bad_tensor", "the fetched tensor equals ours but its root differs")
            record.op, record.slot, record.element = index, slot, element
            heads = [head(t) for t in ours.inputs] + [head(self.fetch_tensor(r) if r != o else out)
                                                      for r, o, out in zip(outputs, mine.output_roots, ours.outputs)]
            plan = self._plan(ours, slot, element)
            if plan.length == 0:
                continue  # this output has no on-chain program; another differing one may
            attrs = list(plan.attrs)
            claimed = element_opening(theirs, element)
            rec = (idx, name.encode("ascii"), inputs, outputs, digest)
            await self._send(record, "pick", self._game.functions.pick(record.game_id, rec, heads, slot, element, attrs, claimed))
            return
        raise VerdeError("unprovable_dispute", f"op {index}: no differing output has an on-chain program")


__all__ = ["Challenger", "Claimant"]
