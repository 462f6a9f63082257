"""Run a local devnet: N peer processes on 127.0.0.1, meshed, then rounds, then a report.

Sequence: prepare the homes (layout) -> spawn every peer (process) -> poll their control
endpoints until each is connected and meshed -> write the start file with a common t0 ->
watch (and show) until every peer has exited -> build the report from their final stats.

Stopping: the first SIGINT/SIGTERM sends SIGTERM to every peer (each writes its final
stats and exits), the second SIGKILLs them. Whatever happens, no peer outlives this
function: leftovers are SIGKILLed on the way out, and each peer also dies with this
process on its own (PR_SET_PDEATHSIG, plus a parent-pid watch).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import trio

from protocol.errors import ProtocolError
from swarmclient import control
from swarmclient.devnet import layout
from swarmclient.devnet.chain import ChainOptions, DevnetChain, clear_chain_files, start_chain
from swarmclient.devnet.process import PeerArgs, PeerProcess
from swarmclient.devnet.report import build_report, load_final_stats, summary_lines
from swarmclient.devnet.settlement import chain_report, chain_settled, chain_summary_lines, read_chain_events
from swarmclient.errors import SwarmError

TICK_S = 0.5
STOP_TIMEOUT_S = 15.0
# Past the expected end of the last round, peers that have not exited are stuck.
OVERRUN_S = 60.0
TRAINING_ROUND_ALLOWANCE_S = 60.0
# Peers linger at most this long after their last round waiting for "all delivered"
# (swarmclient.runtime.peer.DRAIN_MAX_S; the devnet passes --drain-signal).
DRAIN_MAX_S = 60.0
START_DELAY_S = 1.0  # t0 this far ahead, so every peer reads the start file before round 0


@dataclass(frozen=True)
class DevnetOptions:
    root: Path
    peers: int
    rounds: int | None = None  # None: until Ctrl-C
    round_seconds: float = 2.0
    base_port: int | None = None
    headless: bool = True
    # Starting a peer costs seconds of imports (py-libp2p, eth-account); N of them share
    # the cores. None: 60 s plus 10 s per peer.
    ready_timeout: float | None = None
    batch_bytes: int | None = None
    synthetic: bool = True  # network-only rounds; the CLI trains (SAPO) unless --synthetic
    warm_steps: int | None = None  # SAPO warm-start steps (None: the default)
    profile: str = "tiny"  # SAPO model/batch profile of every peer (runtime.device)
    # One embedded chain shared by the peers (claims, stake, disputes); None: no chain.
    chain: ChainOptions | None = None


@dataclass
class DevnetResult:
    report: dict[str, Any]
    exit_code: int


class Devnet:
    def __init__(self, options: DevnetOptions, out: TextIO | None = None) -> None:
        self.options = options
        self.out = out or sys.stderr
        self.procs: list[PeerProcess] = []
        self.snapshots: dict[int, dict[str, Any]] = {}
        self.interrupted = False
        self.overran = False
        self.t0: float | None = None
        self._live = None
        self.chain: DevnetChain | None = None

    def say(self, text: str) -> None:
        if self._live is not None:
            self._live.console.print(text)
        else:
            print(text, file=self.out, flush=True)

    def alive(self) -> list[PeerProcess]:
        return [p for p in self.procs if p.alive]

    async def run(self) -> DevnetResult:
        opts = self.options
        opts.root.mkdir(parents=True, exist_ok=True)
        specs = layout.prepare(opts.root, opts.peers, opts.base_port)
        start_file = opts.root / "start.json"
        start_file.unlink(missing_ok=True)
        cache_dir = opts.root / "cache"
        args = PeerArgs(opts.rounds, opts.round_seconds, start_file, opts.batch_bytes, opts.synthetic, opts.warm_steps,
                        cache_dir, profile=opts.profile, linger=self._chain_linger())
        if opts.chain is None:
            clear_chain_files(specs)
        if not opts.synthetic:
            # One warm start for every peer, built before they start (they load it from the
            # cache), so no peer spends the mesh timeout training.
            self.say("devnet: building or loading the SAPO warm start")
            from swarmclient.runtime.training import sapo_config, shared_warm_start

            await trio.to_thread.run_sync(shared_warm_start, sapo_config(opts.warm_steps, opts.profile), cache_dir)
        started_at = time.time()
        chain_events: list = []
        self.say(f"devnet: starting {opts.peers} peers in {opts.root}")
        async with trio.open_nursery() as outer:
            outer.start_soon(self._on_signals)
            if not opts.headless:
                outer.start_soon(self._dashboard)
            try:
                if opts.chain is not None:
                    self.chain = await start_chain(outer, specs, opts.chain)
                    cheaters = ", ".join(f"peer-{i}" for i in self.chain.cheaters) or "none"
                    self.say(f"devnet: chain at {self.chain.url} (window {opts.chain.challenge_window} s, "
                             f"game clock {opts.chain.clock} s); cheaters: {cheaters}; games: {self.chain.verde}")
                for spec in specs:
                    self.procs.append(PeerProcess.spawn(spec, args))
                async with trio.open_nursery() as nursery:
                    for proc in self.procs:
                        nursery.start_soon(self._reap, proc)
                    await self._wait_meshed()
                    if not self.interrupted:
                        self.t0 = time.time() + START_DELAY_S
                        tmp = start_file.with_suffix(".tmp")
                        tmp.write_text(json.dumps({"t0": self.t0}))
                        os.replace(tmp, start_file)
                        self.say(f"devnet: all peers meshed after {time.time() - started_at:.1f} s; rounds start")
                    await self._watch()
                    nursery.cancel_scope.cancel()
            finally:
                with trio.CancelScope(shield=True):
                    await self._stop_all()
                    if self.chain is not None:
                        # Read the chain's own account of claims and games while it still serves.
                        with trio.move_on_after(30):
                            try:
                                chain_events = await trio.to_thread.run_sync(read_chain_events, self.chain)
                            except ProtocolError as exc:
                                self.say(f"devnet: could not read the chain's events: {exc}")
                outer.cancel_scope.cancel()
        finished_at = time.time()
        report = build_report(
            self.procs, rounds=opts.rounds, round_seconds=opts.round_seconds,
            grace_ms=int(max(2.0, opts.round_seconds) * 1000), started_at=started_at,
            finished_at=finished_at, interrupted=self.interrupted,
        )
        report["devnet_dir"] = str(opts.root)
        if self.chain is not None:
            report["chain"] = chain_report(self.chain, self.procs, report, chain_events)
        for line in summary_lines(report) + chain_summary_lines(report):
            self.say(line)
        summary = report["summary"]
        healthy = not summary["dead_peers"] and summary["zero_lost"] and not self.overran
        code = 1 if not healthy else (130 if self.interrupted else 0)
        return DevnetResult(report, code)

    async def _reap(self, proc: PeerProcess) -> None:
        code = await proc.wait()
        if proc.outcome() not in ("ok", "stopped"):
            self.say(f"devnet: {proc.spec.name} exited: {proc.outcome()} (code {code}); the others go on")

    async def _on_signals(self) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                if not self.interrupted:
                    self.interrupted = True
                    self.say("devnet: stopping peers (Ctrl-C again to kill them)")
                    for proc in self.alive():
                        proc.send(signal.SIGTERM)
                else:
                    for proc in self.alive():
                        proc.send(signal.SIGKILL)

    async def _poll(self, proc: PeerProcess) -> None:
        try:
            self.snapshots[proc.spec.index] = await control.fetch_stats(
                proc.spec.home.root / "control.sock", timeout=2.0
            )
        except SwarmError:
            # Not up yet, or gone (or going): forget what it last said, so a peer that is
            # shutting down is never counted on by _delivery_complete.
            self.snapshots.pop(proc.spec.index, None)

    async def _poll_all(self) -> None:
        async with trio.open_nursery() as nursery:
            for proc in self.alive():
                nursery.start_soon(self._poll, proc)

    async def _wait_meshed(self) -> None:
        # A training peer reports ready only after its warm-up round (one-time torch imports
        # and a throwaway update, tens of CPU seconds each while N peers share the cores).
        default = 60.0 + 10.0 * self.options.peers if self.options.synthetic else 300.0 + 30.0 * self.options.peers
        timeout = self.options.ready_timeout or default
        deadline = trio.current_time() + timeout
        while not self.interrupted:
            await self._poll_all()
            alive = self.alive()
            waiting = [p for p in alive if not self._ready(self.snapshots.get(p.spec.index))]
            if not waiting:
                return
            if trio.current_time() > deadline:
                names = ", ".join(p.spec.name for p in waiting)
                self.say(f"devnet: {names} not meshed after {timeout:g} s; starting anyway")
                return
            await trio.sleep(TICK_S)

    def _ready(self, snapshot: dict[str, Any] | None) -> bool:
        """Meshed, and with a chain also registered and staked (so round 0's claim is posted
        at once and every watcher can put up a bond)."""
        if not snapshot or not snapshot.get("ready"):
            return False
        if self.chain is None:
            return True
        chain = snapshot.get("chain") or {}
        return bool(chain.get("registered")) or bool(chain.get("status"))

    async def _watch(self) -> None:
        opts = self.options
        end = rounds_end = None
        if opts.rounds is not None and self.t0 is not None:
            rounds_end = self.t0 + opts.rounds * opts.round_seconds
            end = rounds_end + DRAIN_MAX_S + OVERRUN_S
            if not opts.synthetic:
                # A SAPO round may outlast its slot on a loaded machine (rounds then slip).
                end += TRAINING_ROUND_ALLOWANCE_S * opts.rounds
            end += (self._chain_linger() or DRAIN_MAX_S) - DRAIN_MAX_S
        drained = False
        while self.alive():
            now = time.time()
            if end is not None and now > end and not self.overran:
                self.overran = True
                self.say("devnet: peers still running long after their last round; stopping them")
                for proc in self.alive():
                    proc.send(signal.SIGTERM)
            if rounds_end is not None and now > rounds_end and not drained and not self.interrupted:
                await self._poll_all()
                if self._delivery_complete():
                    drained = True
                    for proc in self.alive():
                        proc.send_drained()
            await trio.sleep(TICK_S)

    def _delivery_complete(self) -> bool:
        """True once every live peer has published all its rounds and holds every batch
        every other live peer published: then the peers can stop lingering."""
        alive = self.alive()
        snaps = {p.spec.index: self.snapshots.get(p.spec.index) for p in alive}
        if any(s is None or s.get("phase") != "lingering" for s in snaps.values()):
            return False
        if self.chain is not None and not all(chain_settled(s) for s in snaps.values()):
            return False  # claims still in their window, games still open or checks queued
        for receiver in alive:
            got = snaps[receiver.spec.index]["batches"].get("received_rounds", {})
            for sender in alive:
                if sender is receiver:
                    continue
                sent = set(snaps[sender.spec.index]["batches"].get("published_rounds", []))
                if not sent <= set(got.get(sender.spec.peer_id, [])):
                    return False
        return True

    def _chain_linger(self) -> float | None:
        """With a chain, peers linger until their last claims are final and their games over:
        a window, then a game whose slowest end is a clock run out on each side."""
        chain = self.options.chain
        if chain is None:
            return None
        return DRAIN_MAX_S + chain.challenge_window + 3 * chain.clock

    async def _stop_all(self) -> None:
        """SIGTERM what is left, give it time to write its stats, then SIGKILL."""
        for proc in self.alive():
            proc.send(signal.SIGTERM)
        with trio.move_on_after(STOP_TIMEOUT_S):
            for proc in self.procs:
                await proc.wait()
        for proc in self.procs:
            proc.close()

    async def _dashboard(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self.out)
        with Live(console=console, auto_refresh=False, transient=False) as live:
            self._live = live
            try:
                while True:
                    await self._poll_all()
                    live.update(self._table(), refresh=True)
                    await trio.sleep(TICK_S)
            finally:
                self._live = None
                # The last frame shows how each peer ended, from the final stats files.
                for proc in self.procs:
                    final = load_final_stats(proc)
                    if final is not None:
                        self.snapshots[proc.spec.index] = final
                live.update(self._table(), refresh=True)

    def _table(self):
        # The dashboard's devnet view (swarmclient.tui) over each peer's latest snapshot; a
        # process that is no longer running shows how it ended instead of its last phase.
        from swarmclient.tui import render_devnet

        return render_devnet(
            [self.snapshots.get(p.spec.index) for p in self.procs],
            title=f"swarm devnet: {len(self.alive())}/{len(self.procs)} peers running",
            states=[None if p.outcome() == "running" else p.outcome() for p in self.procs],
            peer_ids=[p.spec.peer_id for p in self.procs],
        )


async def run_devnet(options: DevnetOptions, out: TextIO | None = None) -> DevnetResult:
    return await Devnet(options, out).run()
