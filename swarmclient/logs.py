"""Structured logs: JSON lines under Home.logs, with levels and size-based rotation.

    from swarmclient import logs
    path = logs.configure(home, level="INFO")        # once, at the start of a peer process
    log = logging.getLogger("swarm.rounds")
    log.info("round done", extra={"round": 7, "reward": 0.41})

Each line is one JSON object: ts (UTC, ISO 8601 with milliseconds), level, logger, msg, the
`extra` fields, and exc (the traceback) when there is one. Only the standard library is used.
Secrets never reach the file: extra fields whose names say key, secret, passphrase, password,
private, mnemonic, seed phrase or token are replaced by "[redacted]" (messages are ours to keep
clean: never format a key into one).
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import re
import time
from pathlib import Path
from typing import Any

from swarmclient.errors import SwarmError
from swarmclient.home import Home

LOG_FILE = "swarm.jsonl"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
REDACTED = "[redacted]"
SECRET_NAME = re.compile(r"(^|_)(key|secret|passphrase|password|passwd|private|mnemonic|seed_phrase|token|privkey)s?($|_)",
                         re.IGNORECASE)
# Names that contain "key" but hold public data: record keys, peer public keys, sort keys.
PUBLIC_NAMES = frozenset({"chain_key", "record_key", "peer_key_id", "public_key", "pubkey"})
# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_HANDLER_TAG = "_swarm_structured"


def is_secret_name(name: str) -> bool:
    return name.lower() not in PUBLIC_NAMES and bool(SECRET_NAME.search(name))


def _clean(value: Any, depth: int = 0) -> Any:
    if depth > 4:
        return repr(value)[:200]
    if isinstance(value, dict):
        return {str(k): (REDACTED if is_secret_name(str(k)) else _clean(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v, depth + 1) for v in value[:100]]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex() if len(value) <= 64 else f"<{len(value)} bytes>"
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)[:500]


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name in _RECORD_ATTRS or name.startswith("_") or name in entry:
                continue
            entry[name] = REDACTED if is_secret_name(name) else _clean(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class _OncePerRecord(logging.Filter):
    """The handler hangs on the root logger and on "libp2p" (which may or may not propagate,
    depending on whether py-libp2p's logging set-up ran): write each record once."""

    def __init__(self) -> None:
        super().__init__()
        self._last: logging.LogRecord | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record is self._last:
            return False
        self._last = record
        return True


def configure(
    home: Home,
    level: str | int = "INFO",
    *,
    filename: str = LOG_FILE,
    max_bytes: int = MAX_BYTES,
    backups: int = BACKUPS,
    library_level: str | int = "WARNING",
) -> Path:
    """Send Python logging to `<home>/logs/<filename>` as JSON lines, rotated at `max_bytes`
    with `backups` old files. Idempotent: calling it again replaces the handler it added.
    Our loggers ("swarm", "swarmclient", ...) log at `level`; the root logger and py-libp2p's
    "libp2p" logger (which does not propagate) at `library_level`. Returns the file's path."""
    try:
        numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[str(level).upper()]
        lib_numeric = library_level if isinstance(library_level, int) else logging.getLevelNamesMapping()[str(library_level).upper()]
    except KeyError as exc:
        raise SwarmError("bad-log-level", f"unknown log level {exc.args[0]!r} (DEBUG, INFO, WARNING, ERROR)") from None
    try:
        home.logs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SwarmError("logs", f"cannot create {home.logs}: {exc.strerror}") from None
    path = home.logs / filename
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_OncePerRecord())
    setattr(handler, _HANDLER_TAG, True)
    for name in ("", "libp2p"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _HANDLER_TAG, False)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(lib_numeric)
    for name in ("swarm", "swarmclient", "verde", "protocol", "repops"):
        logging.getLogger(name).setLevel(numeric)
    return path


def read(path: str | Path, *, last: int = 100) -> list[dict[str, Any]]:
    """The last `last` entries of a JSON-lines log (lines that do not parse are skipped:
    a line cut short by a crash must not hide the ones before it)."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines[-last:]:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    return out


__all__ = ["JsonFormatter", "LOG_FILE", "configure", "is_secret_name", "read"]
