"""Playing Verde games on the chain, as claimant or challenger, until they resolve.

A `GamePlayer` follows one game: every poll it reads the game and its clocks, moves when it
is our turn, and calls `timeout()` as soon as the other side's clock has run out (silence
loses). Moves come from our own view of the disputed sequence:

- level 1 (the claim's optimizer steps, docs/contracts.md "Game"): the checkpoint hashes
  0 .. steps from re-executing the claim (`replay.Replayed`); the claimant reveals its hashes
  at the inner boundaries, the challenger names the first part whose right end it disputes;
- levels 2 and 3 (the ops of one step, the scalar program of one element) come from Verde's
  strategy (`deeper`, an object with `claimant_move(view)` / `challenger_move(view,
  revealed)` returning a `Move`); without one a side that must descend cannot, and its
  clock runs out.

Each change is written to the state database's games table and a JSON sidecar. A restarted
peer resumes its games from the chain itself: its event follower replays the contracts' logs
from the deployment block, finds the open games it plays, rebuilds its view (the claimant
from its own evidence on disk, the challenger by re-executing again) and plays on.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Protocol

import trio

from protocol.chain.position import inner_boundaries, parts
from protocol.chain.worker import CHAIN_ERRORS
from protocol.errors import ProtocolError
from swarmclient.verify.chainlink import ChainLink

OPPONENT_CLOCK_SLACK_S = 1  # call timeout a second late: chain time and ours differ by < 1 s


@dataclass(frozen=True)
class Move:
    kind: str  # reveal | choose | descend | prove_step
    args: tuple


class DeeperStrategy(Protocol):
    def claimant_move(self, view: Any) -> Move | None: ...
    def challenger_move(self, view: Any, revealed: list[bytes]) -> Move | None: ...


def claimant_points(hashes: tuple[bytes, ...], lo: int, hi: int) -> list[bytes]:
    return [hashes[b] for b in inner_boundaries(lo, hi)]


def challenger_part(hashes: tuple[bytes, ...], lo: int, hi: int, revealed: list[bytes]) -> int:
    """The first sub-range whose right end the challenger's own hash contradicts."""
    bounds = inner_boundaries(lo, hi)
    for j, (position, theirs) in enumerate(zip(bounds, revealed)):
        if hashes[position] != theirs:
            return j
    return parts(lo, hi) - 1


@dataclass
class GameRecord:
    """What the snapshot, the report and a restart know about one game."""

    game_id: int
    role: str  # claimant | challenger
    opponent: str  # peer id (or account when unknown)
    record_key: bytes
    claim_digest: bytes
    claim_round: int
    opened_at: float
    posted_at: float | None = None  # the disputed claim's block time (challengers: detection latency)
    status: str = "open"  # open | claimant_won | challenger_won
    level: int = 1
    lo: int = 0
    hi: int = 0
    turn: str = ""
    clock_self_s: float | None = None
    clock_other_s: float | None = None
    moves: int = 0
    by_timeout: bool = False
    resolved_at: float | None = None
    last_move: str = ""
    note: str = ""
    gas: int = 0

    @property
    def won(self) -> bool | None:
        if self.status == "open":
            return None
        return (self.status == "claimant_won") == (self.role == "claimant")

    def to_json(self) -> dict[str, Any]:
        steps = max(0, self.hi - self.lo)
        return {
            "id": str(self.game_id), "role": self.role, "opponent": self.opponent, "claim_round": self.claim_round,
            "record": self.record_key.hex(), "status": self.status, "level": self.level,
            "position": f"[{self.lo}, {self.hi}] ({steps} left)" if self.status == "open" else f"ended at level {self.level}",
            "turn": self.turn, "clock_self_s": self.clock_self_s, "clock_other_s": self.clock_other_s,
            "moves": self.moves, "by_timeout": self.by_timeout, "won": self.won,
            "winner": None if self.status == "open" else self.status.split("_")[0],
            "detection_s": None if self.posted_at is None else round(self.opened_at - self.posted_at, 2),
            "resolution_s": None if self.resolved_at is None else round(self.resolved_at - self.opened_at, 2),
            "last_move": self.last_move, "note": self.note, "gas": self.gas,
        }


class GamePlayer:
    def __init__(self, link: ChainLink, record: GameRecord, hashes: tuple[bytes, ...], *,
                 deeper: DeeperStrategy | None = None, poll_seconds: float = 0.5,
                 persist: Callable[[GameRecord], None] = lambda g: None, log: Callable[[str], None] = print,
                 driver: Callable[[], Awaitable[Any]] | None = None, driver_errors: tuple = ()) -> None:
        self.link = link
        # Verde's player (verde.Claimant/Challenger .step bound to this game): when given, it
        # makes every move, timeouts included; this player then only observes and records.
        self.driver = driver
        self.driver_errors = driver_errors
        self.g = record
        self.hashes = hashes
        self.deeper = deeper
        self.poll_seconds = poll_seconds
        self.persist = persist
        self.log = log
        self.revealed: dict[tuple[int, int, int], list[bytes]] = {}
        self.done = trio.Event()

    def on_revealed(self, level: int, lo: int, hi: int, points: list[bytes]) -> None:
        self.revealed[(level, lo, hi)] = [bytes(p) for p in points]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        game = self.link.client.game
        stuck_note = ""
        while True:
            try:
                view = await game.game(self.g.game_id)
                clocks = await game.clocks(self.g.game_id)
            except ProtocolError as exc:
                self.g.note = f"read failed: {exc.reason.value}"
                await trio.sleep(self.poll_seconds)
                continue
            self._note_state(view, clocks)
            if view.status != "open":
                await self._resolved(view)
                return
            ours = view.turn == self.g.role
            if self.driver is not None:
                await self._drive()
                self.persist(self.g)
                await trio.sleep(self.poll_seconds)
                continue
            try:
                if ours:
                    move = self._move(view)
                    if move is None:
                        if not stuck_note:
                            stuck_note = f"no move at level {view.level} [{view.lo}, {view.hi}]: Verde strategy unavailable"
                            self.g.note = stuck_note
                            self.log(f"game {self.g.game_id}: {stuck_note}")
                    else:
                        await self._play(move)
                elif clocks["since_last_move"] > self._other_left(clocks) + OPPONENT_CLOCK_SLACK_S:
                    await self._play(Move("timeout", ()))
            except ProtocolError as exc:
                # Lost a race with the other side or the clock; the next poll shows the truth.
                self.g.note = f"{exc.reason.value}: {exc.detail[:80]}"
            self.persist(self.g)
            await trio.sleep(self.poll_seconds)

    async def _drive(self) -> None:
        try:
            record = await self.driver()
        except ProtocolError as exc:
            self._noted(f"{exc.reason.value}: {exc.detail[:80]}")
            return
        except self.driver_errors as exc:  # VerdeError: e.g. an unprovable spot; noted, the clock decides
            self._noted(str(exc)[:120])
            return
        except CHAIN_ERRORS as exc:  # Verde's raw view calls: transport trouble, retried next poll
            self._noted(f"{type(exc).__name__}: {str(exc)[:100]}")
            return
        if record.moves != self.g.moves:
            self.log(f"game {self.g.game_id}: {record.phase.value} after {record.moves} moves ({record.gas:,} gas)")
        self.g.moves, self.g.gas = record.moves, record.gas
        self.g.last_move = record.phase.value
        if record.notes:
            self.g.note = record.notes[-1][:120]

    def _noted(self, note: str) -> None:
        """A failed move, logged once per distinct reason (it is retried every poll)."""
        if note != self.g.note:
            self.log(f"game {self.g.game_id}: move failed: {note}")
        self.g.note = note

    def _other_left(self, clocks: dict) -> int:
        return clocks["challenger_left"] if self.g.role == "claimant" else clocks["claimant_left"]

    def _note_state(self, view: Any, clocks: dict) -> None:
        g = self.g
        g.level, g.lo, g.hi = view.level, view.lo, view.hi
        g.turn = "self" if view.turn == g.role else ("other" if view.turn in ("claimant", "challenger") else "")
        mine, theirs = (clocks["claimant_left"], clocks["challenger_left"])
        if g.role == "challenger":
            mine, theirs = theirs, mine
        since = clocks["since_last_move"]
        g.clock_self_s = float(max(0, mine - since) if g.turn == "self" else mine)
        g.clock_other_s = float(max(0, theirs - since) if g.turn == "other" else theirs)

    def _move(self, view: Any) -> Move | None:
        if self.g.role == "claimant":
            if view.level == 1 and view.hi - view.lo >= 2:
                return Move("reveal", (claimant_points(self.hashes, view.lo, view.hi),))
            return self.deeper.claimant_move(view) if self.deeper else None
        revealed = self.revealed.get((view.level, view.lo, view.hi))
        if revealed is None:
            return None  # the Revealed event has not reached us yet
        if view.level == 1:
            return Move("choose", (challenger_part(self.hashes, view.lo, view.hi, revealed), revealed))
        return self.deeper.challenger_move(view, revealed) if self.deeper else None

    async def _play(self, move: Move) -> None:
        game = self.link.client.game
        call = getattr(game, move.kind)
        result = self.link.gas.add(await call(self.g.game_id, *move.args))
        self.g.moves += 1
        self.g.gas += result.gas_used
        self.g.last_move = move.kind
        self.log(f"game {self.g.game_id}: {move.kind} ({result.gas_used:,} gas)")

    async def _resolved(self, view: Any) -> None:
        g = self.g
        g.status = view.status
        g.turn = ""
        g.resolved_at = g.resolved_at or time.time()
        self.persist(g)
        self.log(f"game {g.game_id}: {view.status} ({'won' if g.won else 'lost'} as {g.role})")
        self.done.set()

    def on_resolved(self, by_timeout: bool) -> None:
        self.g.by_timeout = bool(by_timeout)


class GameBook:
    """Every game this peer plays, persisted: the state database's games table (H4's StateDB,
    for `swarm state` and resume) and a sidecar JSON per game with what a restart needs."""

    def __init__(self, root: Path, db: Any | None) -> None:
        self.dir = root / "games"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.db = db
        self.games: dict[int, GameRecord] = {}
        self._written: dict[int, dict] = {}

    def persist(self, g: GameRecord) -> None:
        """Write the game if it changed since the last write (each write is an fsync)."""
        self.games[g.game_id] = g
        data = g.to_json() | {"record_key": g.record_key.hex(), "claim_digest": g.claim_digest.hex(),
                              "opened_at": g.opened_at, "posted_at": g.posted_at, "resolved_at": g.resolved_at,
                              "lo": g.lo, "hi": g.hi}
        if self._written.get(g.game_id) == data:
            return
        self._written[g.game_id] = data
        path = self.dir / f"{g.game_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)
        if self.db is not None:
            from swarmclient.state import GameRow, GameStatus

            status = GameStatus.OPEN if g.won is None else (GameStatus.WON if g.won else GameStatus.LOST)
            claimant_clock, challenger_clock = (g.clock_self_s, g.clock_other_s) if g.role == "claimant" else (g.clock_other_s, g.clock_self_s)
            self.db.upsert_game(GameRow(g.game_id, g.role, g.claim_digest, g.level, g.lo, g.hi, claimant_clock,
                                        challenger_clock, g.turn, status, g.last_move, g.resolved_at or time.time()))

    def to_json(self) -> list[dict[str, Any]]:
        return [g.to_json() for g in sorted(self.games.values(), key=lambda g: g.game_id)]


__all__ = ["DeeperStrategy", "GameBook", "GamePlayer", "GameRecord", "Move", "challenger_part", "claimant_points"]
