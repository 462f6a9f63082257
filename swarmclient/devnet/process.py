"""One devnet peer as an OS process: spawn, wait, stop, and never leave an orphan.

Why not `trio.run_process`: trio spawns from a worker thread, and Linux's PR_SET_PDEATHSIG
(which the peer sets so it dies with the devnet, even on SIGKILL) fires when the *thread*
that forked it exits, which trio's idle worker threads do after a few seconds. So we fork
from the main (trio) thread and wait on a pidfd, which trio can watch like a socket.

Each peer gets its own process group: a Ctrl-C at the terminal reaches only the devnet,
which then stops its peers in order (SIGTERM, so they write their final stats).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import trio

from swarmclient.devnet.layout import PeerSpec
from swarmclient.errors import SwarmError

WAIT_POLL_S = 0.2


@dataclass(frozen=True)
class PeerArgs:
    rounds: int | None
    round_seconds: float
    start_file: Path
    batch_bytes: int | None = None
    synthetic: bool = False
    warm_steps: int | None = None
    cache_dir: Path | None = None
    profile: str | None = None  # SAPO profile (runtime.device); None: the peer's default
    linger: float | None = None  # longest wait for "all delivered" after the last round


@dataclass
class PeerProcess:
    spec: PeerSpec
    popen: subprocess.Popen
    log_path: Path
    stats_path: Path
    returncode: int | None = None
    signalled_by_us: set[int] = field(default_factory=set)
    _pidfd: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.returncode is None

    @classmethod
    def spawn(cls, spec: PeerSpec, args: PeerArgs) -> "PeerProcess":
        stats_path = spec.home.root / "final-stats.json"
        stats_path.unlink(missing_ok=True)
        log_path = spec.home.root / "peer.log"
        command = [
            sys.executable, "-m", "swarmclient.cli.main", "--home", str(spec.home.root), "peer",
            "--round-seconds", repr(args.round_seconds),
            "--start-file", str(args.start_file),
            "--stats-out", str(stats_path),
            "--parent-pid", str(os.getpid()),
            "--expect-peers", str(spec.degree),
            "--drain-signal",
        ]
        if args.rounds is not None:
            command += ["--rounds", str(args.rounds)]
        if args.batch_bytes is not None:
            command += ["--batch-bytes", str(args.batch_bytes)]
        if args.synthetic:
            command += ["--synthetic"]
        if args.warm_steps is not None:
            command += ["--warm-steps", str(args.warm_steps)]
        if args.cache_dir is not None:
            command += ["--cache-dir", str(args.cache_dir)]
        if args.profile is not None:
            command += ["--profile", args.profile]
        if args.linger is not None:
            command += ["--linger", repr(args.linger)]
        env = {**os.environ, "SWARM_HOME": str(spec.home.root), "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            try:
                popen = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=env, process_group=0, close_fds=True,
                )
            except OSError as exc:
                raise SwarmError("spawn-failed", f"cannot start {spec.name}: {exc.strerror}") from exc
        proc = cls(spec, popen, log_path, stats_path)
        try:
            proc._pidfd = os.pidfd_open(popen.pid)
        except (AttributeError, OSError):
            proc._pidfd = None  # not Linux >= 5.3: fall back to polling
        return proc

    async def wait(self) -> int:
        if self.returncode is not None:
            return self.returncode
        if self._pidfd is not None:
            await trio.lowlevel.wait_readable(self._pidfd)
        else:
            while self.popen.poll() is None:
                await trio.sleep(WAIT_POLL_S)
        self.returncode = self.popen.wait()
        self._close_pidfd()
        return self.returncode

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            trio.lowlevel.notify_closing(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def send(self, signum: int) -> None:
        if self.returncode is not None or self.popen.poll() is not None:
            return
        self.signalled_by_us.add(signum)
        try:
            # The whole group: anything the peer spawned goes too.
            os.killpg(self.popen.pid, signum)
        except ProcessLookupError:
            pass

    def send_drained(self) -> None:
        """Tell the peer every batch has been delivered (SIGUSR1): it stops lingering.
        Sent to the peer alone, not its group, and not counted as a stop request."""
        if self.returncode is None and self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGUSR1)
            except ProcessLookupError:
                pass

    def outcome(self) -> str:
        """ok | stopped (by our SIGTERM, cleanly) | crashed | killed (by a signal not ours)."""
        code = self.returncode
        if code is None:
            return "running"
        if code == 0:
            # A peer we asked to stop (SIGTERM) writes its stats and exits 0.
            return "stopped" if signal.SIGTERM in self.signalled_by_us else "ok"
        if code < 0:
            signum = -code
            if signum in self.signalled_by_us:
                return "stopped" if signum == signal.SIGTERM else "killed-by-devnet"
            return "killed"
        return "crashed"

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]

    def close(self) -> None:
        """Kill the group if still alive (last resort) and release the pidfd."""
        if self.popen.poll() is None:
            self.send(signal.SIGKILL)
            self.popen.wait()
        if self.returncode is None:
            self.returncode = self.popen.returncode
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
