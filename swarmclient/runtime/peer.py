"""The peer runtime: what one `swarm peer` / `swarm join` / devnet process runs.

One nursery tree: the libp2p node (swarmclient.net), the control endpoint
(swarmclient.control), a receive loop, and the round loop. By default each round is a SAPO
round (swarmclient.runtime.training -> swarmclient.sapo.rounds): generate with the peer's
own policy, publish the RolloutBatch, gather external rollouts, update on RepOps, publish the
Claim. With `training="synthetic"` the peer publishes one synthetic RolloutBatch of
realistic size instead (swarmclient.runtime.synthetic; network tests and benchmarks). Either
way it records which batches of the others it received.

Rounds are wall-clock based: round r starts at t0 + r * round_seconds, whatever the other
peers do, so a slow or dead peer never blocks anyone. In a devnet every peer gets the same
t0 through a start file the orchestrator writes once all peers are meshed; a peer run on
its own starts when it is connected (or after `ready_timeout`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import trio

from protocol.errors import ProtocolError
from swarmclient import config as config_mod
from swarmclient import control
from swarmclient import identity as identity_mod
from swarmclient.errors import SwarmError, leaf_error
from swarmclient.home import Home
from swarmclient.net import DEGREE_LOW
from swarmclient.runtime import adapter, reachability
from swarmclient.runtime.durable import DurableState
from swarmclient.runtime.ledger import BatchLedger

STATS_FORMAT = "swarm-peer-stats/1"
# A parent that dies is noticed this fast even where PR_SET_PDEATHSIG does not exist.
PARENT_POLL_S = 0.5
START_FILE_POLL_S = 0.05
# Rollout mesh peers to wait for before round 0: GossipSub's D_lo, the size a mesh is
# kept at or above (it may settle there, below D).
MESH_TARGET = DEGREE_LOW
# Longest wait for the devnet's "all delivered" signal after the last round.
DRAIN_MAX_S = 60.0


def control_socket_path(home: Home) -> Path:
    return home.control_socket


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class RuntimeOptions:
    rounds: int | None = None  # None: run until stopped
    round_seconds: float = 2.0
    # After the last round, keep receiving and relaying this long, so batches published
    # late in the last round by slower peers still arrive (default: one round, >= 2 s).
    # With `drain_signal` this is the longest wait, ended early by SIGUSR1: the devnet
    # sends it once every peer holds every batch (it alone sees the whole swarm).
    linger_seconds: float | None = None
    drain_signal: bool = False
    # Devnet: wait for this file (JSON {"t0": epoch seconds}) before round 0.
    start_file: Path | None = None
    stats_out: Path | None = None  # final snapshot written here (JSON)
    parent_pid: int | None = None  # exit cleanly when this process is gone
    expect_peers: int = 0  # "ready" once this many peers are connected and meshed
    ready_timeout: float = 60.0
    # Fixed batch size in bytes of text (benchmarks); None: the synthetic size spread.
    batch_bytes: int | None = None
    training: str = "synthetic"  # "sapo" (train for real; the CLI default) or "synthetic" (network only)
    warm_steps: int | None = None  # SAPO warm-start steps (None: SapoConfig's default)
    cache_dir: Path | None = None  # warm-start cache (None: $SWARM_HOME/cache)
    profile: str = "tiny"  # SAPO model/batch profile (runtime.device); a home with history keeps its own
    # Overrides of config.toml for this run (swarm join --bootstrap/--listen/--swarm-id).
    bootstrap: tuple[str, ...] = ()  # dialled besides the configured ones
    listen: tuple[str, ...] | None = None
    swarm_id: str | None = None
    # Fail (SwarmError no-peers) instead of running alone when nobody is connected after
    # `ready_timeout` (swarm join: an unreachable bootstrap is an error, not a silent solo peer).
    require_peers: bool = False
    device: Any = None  # runtime.device.DeviceInfo for the capability advert (None: detected cheaply)

    @property
    def linger(self) -> float:
        if self.linger_seconds is not None:
            return self.linger_seconds
        return DRAIN_MAX_S if self.drain_signal else max(2.0, self.round_seconds)


class PeerRuntime:
    def __init__(self, home: Home, options: RuntimeOptions) -> None:
        self.home = home
        self.options = options
        self.identity = identity_mod.load(home)
        self.config = config_mod.load(home.config)
        self.peer_id = self.identity.peer_id.to_base58()
        # Durable state first: a home in use or a damaged database stops us before any work.
        self.durable = DurableState.open(home)
        self.events = control.EventHub()
        self.ledger = BatchLedger()
        self.node: Any = None
        self.phase = "starting"
        self.round = -1
        self.t0: float | None = None
        self.started_ms = now_ms()
        self.stopped_ms: int | None = None
        self.stop_reason: str | None = None
        self.ready = False
        self.errors: list[str] = []
        self.finished = False
        self.stop_requested = False  # rounds done, a signal, or the parent gone: not a failure
        self.drained = trio.Event()
        self.training: Any = None
        self.profile: str | None = None
        self.reach = reachability.ReachabilityWatch()
        self.round_offset = 0  # durable round = wall-clock slot + offset (see _first_round)
        try:
            if options.training == "sapo":
                from swarmclient.runtime.training import Training  # torch: only when training

                self.profile = self.durable.pinned_profile(options.profile)
                if self.profile != options.profile:
                    self.log(f"this home's checkpoints are profile {self.profile}; training it, not {options.profile}")
                cache = options.cache_dir or home.root / "cache"
                self.training = Training(
                    self.peer_id, cache, options.warm_steps, options.round_seconds,
                    profile=self.profile, durable=self.durable,
                )
            elif options.training != "synthetic":
                raise SwarmError("bad-option", f"training {options.training!r} is not sapo or synthetic")
        except BaseException:
            self.durable.close()
            raise
        # [verify] stake, claims and disputes on the chain (swarmclient.verify); None unless
        # the home has a chain deployment (swarm devnet / swarm chain up write one).
        from swarmclient.verify import participant_for

        self.verify = participant_for(home, self.identity, self.config.chain.rpc_url, log=self.log)

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self, *, detail: bool = False) -> dict[str, Any]:
        node_stats = self.node.stats().to_json() if self.node is not None else None
        return {
            "format": STATS_FORMAT,
            "peer_id": self.peer_id,
            "address": self.identity.address,
            "pid": os.getpid(),
            "phase": self.phase,
            "ready": self.ready,
            "round": self.round,
            "rounds_total": self.options.rounds,
            "round_seconds": self.options.round_seconds,
            "t0": self.t0,
            "started_ms": self.started_ms,
            "stopped_ms": self.stopped_ms,
            "stop_reason": self.stop_reason,
            "batches": self.ledger.to_json(detail=detail),
            "node": node_stats,
            "errors": list(self.errors),
            "training": self.training.snapshot() if self.training is not None else None,
            **(self.verify.snapshot() if self.verify is not None else {}),  # [verify] chain, claims, games
            "state": self._state_snapshot(),
            "device": self.options.device.as_json() if self.options.device is not None else None,
            "reachability": self.reach.report(self.node.listen_addrs).as_json() if self.node is not None else None,
        }

    def _state_snapshot(self) -> dict[str, Any]:
        point = self.durable.point
        return {
            "home": str(self.home.root),
            "database": str(self.home.database),
            "resumed_at_round": point.next_round,
            "resumed_checkpoint": point.checkpoint.hex() if point.checkpoint else None,
            "round_offset": self.round_offset,
        }

    def _set_phase(self, phase: str) -> None:
        self.phase = phase
        self.events.publish({"type": "phase", "phase": phase, "ts_ms": now_ms()})
        self.log(f"phase {phase}")

    def log(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S", time.gmtime()) + f".{now_ms() % 1000:03d}"
        print(f"{stamp} {self.peer_id[-8:]} {text}", file=sys.stderr, flush=True)

    def write_stats(self) -> None:
        path = self.options.stats_out
        if path is None:
            return
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.snapshot(detail=True), indent=2, default=str) + "\n")
        os.replace(tmp, path)

    # -- the component ---------------------------------------------------------------------

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run until the rounds are done (or forever without `rounds`); then return.

        The final stats are written the moment the peer stops (rounds done, signal, parent
        gone or failure), before the node tears its connections down: teardown of a libp2p
        host can take a while on a busy machine, and the stats must not wait for it."""
        async with trio.open_nursery() as nursery:
            try:
                if self.options.parent_pid:
                    nursery.start_soon(self._watch_parent, nursery.cancel_scope)
                if self.training is not None:
                    # Before the node: a peer meshes only once it can train, so the devnet's
                    # common start time never finds it still warming up.
                    self._set_phase("warm-start")
                    await trio.to_thread.run_sync(self.training.prepare)
                    self.training.start(self._publish_body, self.node_publish)
                    nursery.start_soon(self.training.drain)
                self.node = adapter.make_node(
                    self.identity, self.config, self.home,
                    overrides=self._node_overrides(), device=self.options.device, model=self.profile or "synthetic",
                )
                self.log("starting node")
                await nursery.start(self.node.serve)
                self.log(f"node up: {', '.join(self.node.listen_addrs)}")
                await nursery.start(
                    control.serve, control_socket_path(self.home), self.snapshot, self.events
                )
                nursery.start_soon(self._receive_loop)
                if self.verify is not None:  # [verify]
                    await nursery.start(self.verify.serve, self.node, self.training.learner if self.training else None)
                nursery.start_soon(self._record_peers)
                task_status.started()
                await self._wait_ready()
                if self.training is not None:
                    sent = await self.training.republish_unpublished(self.node_publish)
                    if sent:
                        self.log(f"re-published {sent} claim(s) prepared before the last stop")
                await self._wait_start()
                await self._round_loop()
                self.stop_reason = self.stop_reason or "rounds-done"
                self.stop_requested = True
            finally:
                self._finish()
            nursery.cancel_scope.cancel()

    def _node_overrides(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        opts = self.options
        if opts.bootstrap:
            out["bootstrap"] = tuple(dict.fromkeys((*self.config.network.bootstrap, *opts.bootstrap)))
        if opts.listen is not None:
            out["listen"] = tuple(opts.listen)
        if opts.swarm_id is not None:
            out["swarm_id"] = opts.swarm_id
        return out

    async def _record_peers(self) -> None:
        """Every second, inbound connections (reachability evidence); every few seconds, the
        peers that advertised capabilities into the state database."""
        while True:
            await trio.sleep(1.0)
            now = time.time()
            if self.node is not None:
                self.reach.observe(self.node)
            if self.node is not None and self.durable.peers_due(now):
                caps = self.node.capabilities()
                await trio.to_thread.run_sync(self.durable.record_peers, caps, now)

    def _finish(self) -> None:
        self.stopped_ms = now_ms()
        self.stop_reason = self.stop_reason or "stopped"
        self.phase = "stopped"
        self.write_stats()
        self.finished = True
        self.log(f"stopped ({self.stop_reason}); closing connections")

    async def _watch_parent(self, scope: trio.CancelScope) -> None:
        while os.getppid() == self.options.parent_pid:
            await trio.sleep(PARENT_POLL_S)
        self.stop_reason = "parent-gone"
        self.stop_requested = True
        scope.cancel()

    def _meshed(self) -> bool:
        stats = self.node.stats()
        want = self.options.expect_peers
        if len(stats.connected_peers) < want:
            return False
        # Up to D_lo expected peers in our rollouts mesh, so round 0 does not go out over a
        # half-built mesh.
        return adapter.rollout_mesh_size(stats) >= min(want, MESH_TARGET)

    async def _wait_ready(self) -> None:
        self._set_phase("connecting")
        # Under a devnet the start file decides when rounds begin: "ready" only reports
        # our state, for as long as the others take to come up.
        deadline = trio.current_time() + self.options.ready_timeout
        while not self._meshed():
            if self.options.start_file is not None and self.options.start_file.exists():
                break
            if self.options.start_file is None and trio.current_time() > deadline:
                connected = len(self.node.stats().connected_peers)
                if self.options.require_peers and connected == 0:
                    raise SwarmError(
                        "no-peers",
                        f"no peer connected within {self.options.ready_timeout:g} s; is the bootstrap address right "
                        f"and reachable? (tried: {', '.join(self.node.config.bootstrap) or 'none configured'})",
                    )
                self.errors.append(
                    f"not meshed after {self.options.ready_timeout:g} s "
                    f"(connected {connected}, wanted {self.options.expect_peers})"
                )
                break
            await trio.sleep(0.1)
        self.ready = True
        self.events.publish({"type": "ready", "ts_ms": now_ms()})
        stats = self.node.stats()
        self.log(f"ready: {len(stats.connected_peers)} connected, mesh {adapter.rollout_mesh_size(stats)}")

    async def _wait_start(self) -> None:
        path = self.options.start_file
        if path is None:
            self.t0 = time.time()
            return
        self._set_phase("waiting-start")
        while True:
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError, TypeError):
                self.t0 = float(json.loads(path.read_text())["t0"])
                return
            await trio.sleep(START_FILE_POLL_S)

    async def _sleep_until(self, wall: float) -> None:
        await trio.sleep(max(0.0, wall - time.time()))

    def _offset(self) -> float:
        # Spread publishes over the first quarter of a round so peers do not all send at
        # the same instant (as real peers would not: generation takes variable time).
        h = int.from_bytes(hashlib.sha256(self.peer_id.encode()).digest()[:4], "big")
        return (h / 2**32) * 0.25 * self.options.round_seconds

    async def _round_loop(self) -> None:
        assert self.t0 is not None
        self._set_phase("running")
        period = self.options.round_seconds
        # A peer that reads the start time late joins the current round, not round 0.
        r = max(0, math.floor((time.time() - self.t0) / period))
        if self.training is not None:
            self.round_offset = await self._first_round(r) - r
        while self.options.rounds is None or r < self.options.rounds:
            await self._sleep_until(self.t0 + r * period + self._offset())
            index = r + self.round_offset
            self.round = index
            self.events.publish({"type": "round", "round": index, "ts_ms": now_ms()})
            if self.training is not None:
                # A SAPO round may outlast its slot on a slow machine: the next one then
                # starts at once (rounds slip, nobody waits for anybody).
                await self.training.run_round(index)
                self._note_training(index)
                if self.verify is not None:  # [verify] the round's claim goes to the ledger
                    self.verify.on_round(self.training.records, index)
            else:
                await self._publish_batch(r)
            r += 1
        self._set_phase("lingering")
        with trio.move_on_at(trio.current_time() + max(0.0, self.t0 + r * period + self.options.linger - time.time())):
            if self.options.drain_signal:
                await self.drained.wait()
            else:
                await trio.sleep_forever()

    async def _first_round(self, slot: int) -> int:
        """The durable round index of the first wall-clock slot we run. Round indices never go
        back and never repeat (they name claims and seed the tasks): a home with history goes
        on from its resume point. When the swarm's clock is already past it (a devnet peer
        restarted late), we join the current round: the skipped indices are never run, the
        checkpoint chain stays continuous (the next round starts from the last stored state),
        and a round left `started` by the crash is closed as superseded."""
        point = self.durable.point
        if point.next_round >= slot:
            return point.next_round
        if point.redo_round is not None:
            await self.training.supersede(point.redo_round)
        return slot

    async def _publish_batch(self, round_index: int) -> None:
        await self._publish_body(adapter.make_batch(self.peer_id, round_index, self.options.batch_bytes))

    async def node_publish(self, body: Any) -> None:
        try:
            await self.node.publish(body)
        except ProtocolError as exc:
            raise SwarmError("publish", str(exc)) from None

    def _note_training(self, r: int) -> None:
        stats = self.training.loop.stats()
        self.events.publish(
            {"type": "trained", "round": r, "reward": stats.reward_mean, "local_samples": stats.local_samples,
             "external_samples": stats.external_samples, "loss": stats.loss, "ts_ms": now_ms()}
        )
        if stats.last_error:
            msg = f"round {r}: {stats.last_error}"
            if msg not in self.errors[-3:]:
                self.errors.append(msg)

    async def _publish_body(self, body: Any) -> None:
        round_index = body.round
        size = adapter.batch_text_bytes(body)
        at = now_ms()
        try:
            await self.node.publish(body)
        except (SwarmError, ProtocolError) as exc:
            # Visible, never silent: the report shows every batch that could not be sent.
            self.ledger.on_publish_failed(str(getattr(exc.reason, "value", exc.reason)))
            self.errors.append(f"round {round_index}: publish failed: {exc}")
            return
        self.ledger.on_published(round_index, at, size)
        self.events.publish({"type": "published", "round": round_index, "bytes": size, "ts_ms": at})

    async def _receive_loop(self) -> None:
        async for envelope in adapter.received(self.node):  # bootstrap dialling: the node's job
            batch = adapter.as_rollout_batch(envelope)
            if batch is None:
                continue
            sender, round_index, size, sent_ms = batch
            if sender == self.peer_id:
                continue  # our own batch, echoed back by a relay
            if self.training is not None:
                self.training.offer(sender, envelope.body)
            latency = max(0.0, now_ms() - sent_ms)
            if self.ledger.on_received(sender, round_index, latency, size):
                self.events.publish(
                    {"type": "received", "from": sender, "round": round_index, "bytes": size,
                     "latency_ms": latency, "ts_ms": now_ms()}
                )


Observer = Callable[["PeerRuntime"], Awaitable[None]]


def run_peer(home: Home, options: RuntimeOptions, *, observers: tuple[Observer, ...] = (), name: str = "swarm peer") -> int:
    """Run one peer in this process until done or SIGINT/SIGTERM; returns an exit code.

    A signal is a normal way to stop: the final stats are written and the exit code is 0.
    `observers` run beside the runtime (`swarm join`'s progress display) and are cancelled
    when it stops. A SwarmError (bad state, no peers, ...) is one line and exit code 2.
    """
    if not _die_with_parent(options.parent_pid):
        return 0
    # SIGUSR1 ("all delivered", from the devnet) must never kill a peer that is not yet,
    # or no longer, inside trio.run, whose signal receiver handles it meanwhile.
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    try:
        runtime = PeerRuntime(home, options)
    except SwarmError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2

    async def main() -> None:
        async with trio.open_nursery() as nursery:

            async def on_signals() -> None:
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGUSR1) as signals:
                    async for signum in signals:
                        if signum == signal.SIGUSR1:
                            runtime.drained.set()  # the devnet says: everything delivered
                            continue
                        runtime.stop_reason = f"signal-{signal.Signals(signum).name}"
                        runtime.stop_requested = True
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(on_signals)
            for observer in observers:
                nursery.start_soon(observer, runtime)
            await runtime.serve()
            nursery.cancel_scope.cancel()

    log_file = _route_library_logs(home)
    try:
        trio.run(main)
    except KeyboardInterrupt:
        # A SIGINT that arrived before the signal receiver was installed.
        return 0
    except BaseException as exc:  # noqa: BLE001 - the last line of defence: log, one line, exit code
        leaf = leaf_error(exc, SwarmError)
        if leaf is not None:
            print(f"{name}: {leaf}", file=sys.stderr)
            return 2
        if not isinstance(exc, Exception):
            raise
        logging.getLogger("swarm.peer").error("peer failed", exc_info=exc)
        if runtime.finished and runtime.stop_requested:
            # py-libp2p can raise from its own teardown (streams cut mid-read); the peer's
            # work was done and its stats written, so this is noted, not a failure.
            print(f"{name}: libp2p raised while closing ({type(exc).__name__}); see {log_file}", file=sys.stderr)
            return 0
        print(f"{name}: failed: {type(exc).__name__}: {exc}; traceback in {log_file}", file=sys.stderr)
        return 1
    finally:
        runtime.durable.close()
    runtime.log("exited")
    return 0


def _route_library_logs(home: Home) -> Path:
    """Send Python logging (py-libp2p logs errors with tracebacks) to a file under the
    home's logs/ instead of the console, where the operator reads our own lines."""
    home.logs.mkdir(parents=True, exist_ok=True)
    path = home.logs / "peer.log"
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # py-libp2p's "libp2p" logger does not propagate (libp2p/utils/logging.py), so without
    # a handler of its own its records go to logging's last-resort handler: stderr.
    for name in ("", "libp2p"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
    return path


def _die_with_parent(parent_pid: int | None) -> bool:
    """Ask Linux to SIGTERM us when the process that spawned us dies, even by SIGKILL
    (PR_SET_PDEATHSIG); elsewhere the runtime's parent watcher does the same by polling.
    False when the parent is already gone (there is nobody to run for)."""
    if not parent_pid:
        return True
    if not sys.platform.startswith("linux"):
        return os.getppid() == parent_pid
    import ctypes

    PR_SET_PDEATHSIG = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    # Checked after the request: a parent that died before it took effect never signals us.
    return os.getppid() == parent_pid
