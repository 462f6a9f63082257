"""A peer's chain participation as one trio component: stake, post claims, watch and dispute.

    participant = Participant(home, identity, settings, log=runtime.log)
    await nursery.start(participant.serve, node, training)   # training may be None (synthetic)
    participant.on_claim(record.to_claim())                   # each round's claim
    snapshot |= participant.snapshot()                        # chain / claims / games / verify

Inside: the account's transaction worker; registration and stake; the `ClaimPoster`; the
evidence capture around the learner (served to watchers over /swarm/ckpt/1 and
/swarm/batch/1); while a game against one of our claims is open, that claim's re-executed
op outputs over /swarm/trace/1 (trace_server); an event follower over the ledger and game
contracts from the deployment block; a checker that re-executes a sample of other peers'
claims and opens a game on a mismatch Verde can prove (the others are reported as "mismatch,
not provable on-chain"); and a `GamePlayer` per game this peer is in, either side.
"""

from __future__ import annotations

import hashlib
import time
from functools import partial
from typing import Any, Callable

import trio

from protocol.chain import Claim as ChainClaim
from protocol.chain.events import fetch_events
from protocol.chain.worker import CHAIN_ERRORS
from protocol.errors import ProtocolError
from swarmclient.errors import SwarmError
from swarmclient.home import Home
from swarmclient.verify.chainlink import ChainLink
from swarmclient.verify.evidence import TORCH_LOCK, UpdateCapture, decode_evidence, tensors_from_blob
from swarmclient.verify.games import GameBook, GamePlayer, GameRecord
from swarmclient.verify.poster import ClaimPoster
from swarmclient.verify.replay import reexecute
from swarmclient.verify import verde_link
from swarmclient.verify.settings import VerifySettings
from swarmclient.verify.trace_server import TraceFetcher, TraceServer

CHECK_QUEUE = 256
STAKE_ATTEMPTS = 10
REFRESH_S = 2.0


class Participant:
    def __init__(self, home: Home, identity: Any, settings: VerifySettings, *,
                 log: Callable[[str], None] = print, deeper: Any = None) -> None:
        self.home = home
        self.identity = identity
        self.settings = settings
        self.log = log
        self.deeper = deeper
        self.root = home.root / "verify"
        self.link: ChainLink | None = None
        self.poster: ClaimPoster | None = None
        self.capture: UpdateCapture | None = None
        self.book: GameBook | None = None
        self.node: Any = None
        self.players: dict[int, GamePlayer] = {}
        self.posted: dict[bytes, dict] = {}  # record key -> ClaimPosted args (every claimant)
        self.stats = {"checked": 0, "agreed": 0, "disputed": 0, "unverifiable": 0, "skipped": 0, "late": 0,
                      "unprovable": 0, "last_error": ""}
        self.unprovable: list[dict[str, Any]] = []  # mismatches we did not open a game on (latest 32)
        self.traces = TraceServer()
        self.check_seconds: list[float] = []
        self.error = ""
        self._checks_send, self._checks_receive = trio.open_memory_channel[dict](CHECK_QUEUE)
        self._in_flight = 0
        self._nursery: trio.Nursery | None = None
        self.verde = False  # Verde plays the deeper levels (set once the deployment is known)

    # -- hooks for the runtime -----------------------------------------------------------

    def attach(self, learner: Any) -> None:
        """Wrap the learner so every update's evidence is kept (call before round 0)."""
        self.capture = UpdateCapture(learner, self.root, self.settings.fault)

    def on_claim(self, claim: Any) -> None:
        if self.poster is not None:
            self.poster.offer(claim)

    def on_round(self, records: list[Any], round_index: int) -> None:
        """The runtime's hook after each round: post the claim of the update it made, if any."""
        for record in reversed(records[-4:]):
            if record.round == round_index:
                self.on_claim(record.to_claim())
                return

    def snapshot(self) -> dict[str, Any]:
        if self.link is None:
            return {"chain": {"status": self.error or "connecting"}}
        out: dict[str, Any] = {"chain": dict(self.link.state)}
        if self.poster is not None:
            out["claims"] = self.poster.counts()
        out["games"] = self.book.to_json() if self.book else []
        times = sorted(self.check_seconds)
        out["verify"] = {**self.stats, "sample_rate": self.settings.sample_rate, "fault": self.settings.fault.value,
                         "faults_injected": self.capture.faults_injected if self.capture else 0,
                         "check_s_median": times[len(times) // 2] if times else None,
                         "queued": self._in_flight, "settled": self.settled(), "verde": self.verde,
                         "unprovable_claims": list(self.unprovable), "trace": dict(self.traces.counters)}
        return out

    def settled(self) -> bool:
        """No claim of ours awaiting its window or a game, no game open, no check queued."""
        open_games = any(not p.done.is_set() for p in self.players.values())
        return (self.poster is None or self.poster.settled()) and not open_games and self._in_flight == 0

    # -- the component ---------------------------------------------------------------------

    async def serve(self, node: Any, learner: Any = None, *,
                    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.node = node
        if learner is not None and self.capture is None:
            self.attach(learner)
        try:
            self.link = await ChainLink.connect(self.settings.rpc_url, self.settings.deployment, self.identity.account)
        except SwarmError as exc:
            self.error = str(exc)
            self.log(f"chain: {exc}; not taking part")
            task_status.started()
            return
        self.book = GameBook(self.root, self._open_db())
        self.verde = verde_link.available(self.link.deployment) and await self._stepper_installed()
        self.log("games: Verde plays all levels" if self.verde else "games: level 1 only (Verde unavailable)")
        self.poster = ClaimPoster(self.link, self.log)
        if self.capture is not None:
            node.provide("ckpt", lambda key, query: self.capture.checkpoint_blob(key))
            node.provide("batch", lambda key, query: self.capture.evidence_blob(key))
            node.provide("trace", self.traces.provide)
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.link.client.worker.serve)
            await nursery.start(self.poster.serve)
            nursery.start_soon(self._stake)
            nursery.start_soon(self._refresh)
            nursery.start_soon(self._checker)
            send, receive = trio.open_memory_channel(256)
            nursery.start_soon(self._follow_events, send)
            nursery.start_soon(self._dispatch, receive)
            task_status.started()

    async def _stepper_installed(self) -> bool:
        """Verde's one-step machines are in the Game (a devnet installs them at deployment)."""
        game = self.link.client.game.contract
        try:
            address = await self.link.read(lambda w3: game.functions.stepper().call())
        except ProtocolError:
            return False
        return int(address, 16) != 0

    def _open_db(self) -> Any:
        try:
            from swarmclient.state import StateDB

            return StateDB.open(self.home.database)
        except SwarmError as exc:
            self.log(f"games are not recorded in the state database: {exc}")
            return None

    async def _stake(self) -> None:
        stake = self.settings.stake_ai * 10**18
        for attempt in range(1, STAKE_ATTEMPTS + 1):
            try:
                await self.link.ensure_staked(self.identity, stake)
                self.log(f"chain: registered and staked {self.settings.stake_ai} AI as {self.link.address}")
                return
            except ProtocolError as exc:
                # Idempotent: a retry finds what went through and does the rest.
                self.error = f"stake failed (attempt {attempt}): {exc.reason.value}: {exc.detail[:120]}"
                self.log(f"chain: {self.error}")
                await trio.sleep(2.0 * attempt)

    async def _follow_events(self, send: trio.MemorySendChannel) -> None:
        """Every decoded log of the ledger and the game, in chain order, from the deployment
        block (so a restarted peer replays its games); a failed read is retried, never fatal."""
        client = self.link.client
        addresses = [client.ledger.address, client.game.address]
        next_block = self.link.deployment.block
        async with send:
            while True:
                try:
                    head = await self.link.read(lambda w3: w3.eth.block_number)
                    if head >= next_block:
                        found = await trio.to_thread.run_sync(fetch_events, client.w3, client.decoder, addresses,
                                                              next_block, head)
                        for event in found:
                            await send.send(event)
                        next_block = head + 1
                except ProtocolError as exc:
                    self.link.state["status"] = f"events: {exc.reason.value}"
                await trio.sleep(self.settings.poll_seconds)

    async def _refresh(self) -> None:
        while True:
            try:
                await self.link.refresh()
            except ProtocolError as exc:
                self.link.state["status"] = f"{exc.reason.value}"
            await trio.sleep(REFRESH_S)

    # -- events ----------------------------------------------------------------------------

    async def _dispatch(self, receive: trio.MemoryReceiveChannel) -> None:
        me = self.link.address
        async for event in receive:
            a = event.args
            if event.name == "ClaimPosted":
                self.posted[bytes(a["key"])] = {**a, "block": event.block}
                if a["claimant"] != me and self._sampled(bytes(a["key"])):
                    self._queue_check(bytes(a["key"]), None)
            elif event.name == "GameOpened":
                if a["game_id"] not in self.players and me in (a["claimant"], a["challenger"]):
                    role = "claimant" if a["claimant"] == me else "challenger"
                    other = a["challenger"] if role == "claimant" else a["claimant"]
                    self._nursery.start_soon(self._adopt_game, int(a["game_id"]), role, bytes(a["record"]), other)
                if a["claimant"] == me and self.poster:
                    self.poster.on_game(bytes(a["record"]), None)
            elif event.name == "Revealed" and a["game_id"] in self.players:
                self.players[a["game_id"]].on_revealed(a["level"], a["lo"], a["hi"], list(a["points"]))
            elif event.name == "GameResolved":
                player = self.players.get(a["game_id"])
                if player is not None:
                    player.on_resolved(a["by_timeout"])
                    if player.g.role == "claimant":
                        self.traces.close(player.g.claim_digest)
                    if player.g.role == "claimant" and self.poster:
                        status = {2: "claimant_won", 3: "challenger_won"}.get(int(a["status"]), str(a["status"]))
                        self.poster.on_game(player.g.record_key, status)

    def _sampled(self, key: bytes) -> bool:
        rate = self.settings.sample_rate
        if rate >= 1.0:
            return True
        draw = int.from_bytes(hashlib.sha256(self.link.address.encode() + key).digest()[:8], "big")
        return draw < rate * 2**64

    def _queue_check(self, key: bytes, game: tuple[int, str] | None) -> None:
        try:
            self._checks_send.send_nowait({"key": key, "game": game})
            self._in_flight += 1
        except trio.WouldBlock:
            self.stats["skipped"] += 1

    async def _adopt_game(self, game_id: int, role: str, record_key: bytes, other: str = "") -> None:
        """A game we are in but not playing yet: one we are challenged in, or (after a restart)
        any open one. The claimant's view comes from its own evidence; a challenger re-checks."""
        if role == "challenger":
            self._queue_check(record_key, (game_id, role))
            return
        posted = self.posted.get(record_key)
        if posted is None or self.capture is None:
            self.log(f"game {game_id}: against a claim we hold no evidence for; cannot answer")
            return
        own = self.capture.own_evidence(bytes(posted["claim_digest"]))
        if own is None:
            self.log(f"game {game_id}: our evidence for round {posted['round']} is gone; cannot answer")
            return
        claim, records, tensors = own
        claimed = bytes(posted["ckpt_after"])
        driver = None
        if self.verde:
            digest = bytes(posted["claim_digest"])
            self.traces.preparing(digest)  # a challenger asking meanwhile hears BUSY, not NOT_FOUND
            try:
                execution = await trio.to_thread.run_sync(locked, verde_link.execute, tensors, records, claim.hparams,
                                                          claim.steps)
            except BaseException:
                self.traces.close(digest)
                raise
            execution = verde_link.as_claimed(execution, claimed)
            self.traces.open(digest, execution)  # served until the game resolves
            hashes = verde_link.level1_hashes(execution)
            player = verde_link.claimant(self.link.client, execution, game_id, _chain_claim(posted))
            driver = partial(player.step, game_id)
        else:
            replayed = await trio.to_thread.run_sync(locked, reexecute, tensors, records, claim.hparams)
            # Our assertion at the last position is what we claimed (a cheater's perturbed hash).
            hashes = replayed.hashes[:-1] + (claimed,)
        try:
            opponent = await self.link.peer_id_of(other) or other
        except ProtocolError:
            opponent = other
        self._start_player(GameRecord(game_id, role, opponent, record_key, bytes(posted["claim_digest"]),
                                      int(posted["round"]), time.time()), hashes, driver)

    def _start_player(self, record: GameRecord, hashes: tuple[bytes, ...], driver: Any = None) -> None:
        player = GamePlayer(self.link, record, hashes, deeper=self.deeper, poll_seconds=self.settings.poll_seconds,
                            persist=self.book.persist, log=self.log, driver=driver,
                            driver_errors=verde_link.errors() if driver is not None else ())
        self.players[record.game_id] = player
        self.book.persist(record)
        self._nursery.start_soon(player.serve)

    # -- checking other peers' claims --------------------------------------------------------

    async def _checker(self) -> None:
        await self.link.staked.wait()  # a challenger's bond allowance is set up with the stake
        async for job in self._checks_receive:
            try:
                await self._check(job["key"], job["game"])
            except SwarmError as exc:
                self.stats["unverifiable"] += 1
                self.stats["last_error"] = str(exc)[:160]
                self.log(f"check: {exc}")
            except ProtocolError as exc:
                self.stats["last_error"] = f"{exc.reason.value}: {exc.detail[:120]}"
                self.log(f"check: chain: {self.stats['last_error']}")
            except CHAIN_ERRORS as exc:  # a raw web3/transport error from Verde's own views
                self.stats["last_error"] = f"{type(exc).__name__}: {str(exc)[:120]}"
                self.log(f"check: chain: {self.stats['last_error']}")
            finally:
                self._in_flight -= 1

    async def _check(self, key: bytes, game: tuple[int, str] | None) -> None:
        posted = self.posted[key]
        if game is None and await self.link.now() >= int(posted["window_end"]):
            self.stats["late"] += 1  # its window closed before we got to it (or a restart's replay)
            return
        started = time.monotonic()
        hashes, execution, peer = await self._reexecute(posted)
        self.check_seconds = (self.check_seconds + [time.monotonic() - started])[-256:]
        self.stats["checked"] += 1
        claimed = bytes(posted["ckpt_after"])
        claim = _chain_claim(posted)
        if game is not None:  # resuming a game we opened before a restart
            driver = None
            if execution is not None:
                import verde

                fetcher = self._trace_fetcher(peer, posted)
                player = verde_link.challenger(self.link.client, execution, fetcher.lookup)
                player.resume(verde.GameRecord(game[0], "challenger", claim))
                driver = partial(fetcher.driver(player), game[0])
            self._start_player(GameRecord(game[0], "challenger", peer, key, bytes(posted["claim_digest"]),
                                          int(posted["round"]), time.time()), hashes, driver)
            return
        if hashes[-1] == claimed and len(hashes) - 1 == int(posted["steps"]):
            self.stats["agreed"] += 1
            return
        if execution is not None:
            worth, why = verde_link.worth_opening(claim, execution)
            if not worth:
                self.stats["unprovable"] += 1
                self.unprovable = (self.unprovable + [{"claimant": peer, "round": int(posted["round"]),
                                                       "status": "mismatch, not provable on-chain", "why": why}])[-32:]
                self.log(f"claim of {peer[-8:]} round {posted['round']} does not re-execute, but the mismatch is "
                         f"not provable on-chain ({why}); no game opened")
                return
        self.stats["disputed"] += 1
        self.log(f"claim of {peer[-8:]} round {posted['round']} does not re-execute: "
                 f"claimed {claimed.hex()[:12]}, got {hashes[-1].hex()[:12]}; opening a game")
        driver = None
        if execution is not None:
            fetcher = self._trace_fetcher(peer, posted)
            player = verde_link.challenger(self.link.client, execution, fetcher.lookup)
            game_id = await player.open(claim)
            gas = player.records[game_id].gas
            driver = partial(fetcher.driver(player), game_id)
        else:
            result = self.link.gas.add(await self.link.client.game.open(claim))
            game_id, gas = int(result.event("GameOpened")["game_id"]), result.gas_used
        posted_at = await self._block_time(int(posted["block"]))
        record = GameRecord(game_id, "challenger", peer, key, bytes(posted["claim_digest"]), int(posted["round"]),
                            time.time(), posted_at=posted_at, gas=gas, last_move="open", moves=1)
        self._start_player(record, hashes, driver)

    def _trace_fetcher(self, peer: str, posted: dict) -> TraceFetcher:
        """The claimant's op outputs over /swarm/trace/1, for Verde's pick."""
        return TraceFetcher(self.node.fetch, peer, bytes(posted["claim_digest"]), timeout=self.settings.fetch_timeout,
                            log_fn=self.log)

    async def _reexecute(self, posted: dict) -> tuple[tuple[bytes, ...], Any, str]:
        """Fetch the claim's evidence from its claimant and re-execute it: the level-1 hashes,
        Verde's Execution (None without Verde) and the claimant's peer id."""
        peer = await self.link.peer_id_of(posted["claimant"])
        if peer is None:
            raise SwarmError("unregistered", f"claimant {posted['claimant']} has no registered peer id")
        timeout = self.settings.fetch_timeout
        digest, before = bytes(posted["claim_digest"]), bytes(posted["ckpt_before"])
        claim, records = decode_evidence(await self.node.fetch(peer, "batch", digest, timeout=timeout), digest)
        if claim.ckpt_before != before or claim.steps != int(posted["steps"]):
            raise SwarmError("bad-evidence", "the gossiped claim and the posted one differ")
        tensors = tensors_from_blob(await self.node.fetch(peer, "ckpt", before, timeout=timeout), before)
        if self.verde:
            execution = await trio.to_thread.run_sync(locked, verde_link.execute, tensors, records, claim.hparams, claim.steps)
            return verde_link.level1_hashes(execution), execution, peer
        replayed = await trio.to_thread.run_sync(locked, reexecute, tensors, records, claim.hparams)
        return replayed.hashes, None, peer

    async def _block_time(self, block: int) -> float | None:
        try:
            return float(await self.link.read(lambda w3: w3.eth.get_block(block)["timestamp"]))
        except ProtocolError:
            return None


def locked(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` holding the process's torch lock (run it in a worker thread)."""
    with TORCH_LOCK:
        return fn(*args)


def _chain_claim(posted: dict) -> ChainClaim:
    """The on-chain claim a ClaimPosted event describes (what a game is opened against)."""
    return ChainClaim(posted["claimant"], int(posted["round"]), bytes(posted["claim_digest"]), bytes(posted["trace_root"]),
                      bytes(posted["ckpt_before"]), bytes(posted["ckpt_after"]), int(posted["steps"]))


__all__ = ["Participant"]
