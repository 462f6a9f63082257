"""anvil (Foundry's node, from npm `@foundry-rs/anvil`) as a local chain on 127.0.0.1.

`scripts/install-anvil.sh` installs it into `.cache/anvil` (override: $SWARM_ANVIL_PREFIX);
`find_anvil` prefers the platform binary the package ships over its Node.js launcher.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from protocol.chain.reasons import ChainReason
from protocol.errors import ProtocolError

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-anvil.sh"


def anvil_prefix() -> Path:
    return Path(os.environ.get("SWARM_ANVIL_PREFIX") or REPO_ROOT / ".cache" / "anvil")


def find_anvil() -> Path | None:
    scoped = anvil_prefix() / "node_modules" / "@foundry-rs"
    for native in sorted(scoped.glob("anvil-*/bin/anvil")):
        if os.access(native, os.X_OK):
            return native
    launcher = anvil_prefix() / "node_modules" / ".bin" / "anvil"
    if launcher.exists():
        return launcher
    found = shutil.which("anvil")
    return Path(found) if found else None


def install_anvil() -> Path:
    """Run scripts/install-anvil.sh (npm) and return the binary; one-line error on failure."""
    if not INSTALL_SCRIPT.exists():
        raise ProtocolError(ChainReason.ANVIL, f"{INSTALL_SCRIPT} is missing")
    proc = subprocess.run(["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=300)
    binary = find_anvil()
    if proc.returncode != 0 or binary is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ProtocolError(ChainReason.ANVIL, f"installing @foundry-rs/anvil with npm failed: {tail}")
    return binary


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AnvilProcess:
    """A running anvil; `stop()` ends it (and only it)."""

    url: str
    port: int
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_anvil(*, port: int | None = None, chain_id: int = 31337, ready_timeout: float = 20.0,
                install: bool = True) -> AnvilProcess:
    binary = find_anvil() or (install_anvil() if install else None)
    if binary is None:
        raise ProtocolError(ChainReason.ANVIL, "anvil is not installed; run scripts/install-anvil.sh")
    port = port or free_port()
    cmd = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(chain_id),
           "--gas-limit", "100000000", "--silent"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
            raise ProtocolError(ChainReason.ANVIL, f"anvil exited ({proc.returncode}): {err[-200:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return AnvilProcess(f"http://127.0.0.1:{port}", port, proc)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise ProtocolError(ChainReason.ANVIL, f"anvil did not listen on 127.0.0.1:{port} within {ready_timeout:.0f} s")
