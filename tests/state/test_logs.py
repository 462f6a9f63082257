"""Structured JSON-lines logs with levels, rotation and redaction of secrets."""

from __future__ import annotations

import json
import logging

import pytest

from swarmclient import logs
from swarmclient.errors import SwarmError
from swarmclient.home import Home


@pytest.fixture
def restore_logging():
    saved = {name: (logging.getLogger(name).handlers[:], logging.getLogger(name).level)
             for name in ("", "libp2p", "swarm", "swarmclient")}
    yield
    for name, (handlers, level) in saved.items():
        logger = logging.getLogger(name)
        for h in logger.handlers[:]:
            if h not in handlers:
                logger.removeHandler(h)
                h.close()
        logger.setLevel(level)


def test_json_lines_with_levels_extras_and_tracebacks(tmp_path, restore_logging):
    path = logs.configure(Home(tmp_path), level="INFO")
    assert path == tmp_path / "logs" / logs.LOG_FILE
    log = logging.getLogger("swarm.rounds")
    log.debug("not written at INFO")
    log.info("round done", extra={"round": 7, "reward": 0.41, "ckpt": b"\x01" * 32, "peers": ("a", "b")})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("update failed", extra={"round": 8})
    logging.getLogger("libp2p.pubsub").info("library chatter below WARNING is dropped")
    logging.getLogger("libp2p.pubsub").warning("stream reset")
    entries = logs.read(path)
    assert [e["msg"] for e in entries] == ["round done", "update failed", "stream reset"]
    first = entries[0]
    assert (first["level"], first["logger"], first["round"], first["reward"]) == ("INFO", "swarm.rounds", 7, 0.41)
    assert first["ckpt"] == "01" * 32 and first["peers"] == ["a", "b"] and first["ts"].endswith("Z")
    assert entries[1]["level"] == "ERROR" and "ValueError: boom" in entries[1]["exc"]
    for line in path.read_text().splitlines():
        json.loads(line)  # every line is one JSON object


def test_secrets_never_reach_the_file(tmp_path, restore_logging):
    path = logs.configure(Home(tmp_path))
    secret = "5f" * 32
    logging.getLogger("swarm.identity").info(
        "identity loaded",
        extra={"private_key": secret, "passphrase": "hunter2", "config": {"eth_key": secret, "rpc": "http://x"},
               "chain_key": "ab" * 32},
    )
    text = path.read_text()
    assert secret not in text and "hunter2" not in text
    entry = logs.read(path)[-1]
    assert entry["private_key"] == entry["passphrase"] == entry["config"]["eth_key"] == logs.REDACTED
    assert entry["config"]["rpc"] == "http://x" and entry["chain_key"] == "ab" * 32  # public data stays


def test_rotation_and_idempotent_configure(tmp_path, restore_logging):
    home = Home(tmp_path)
    logs.configure(home, max_bytes=2000, backups=2)
    path = logs.configure(home, max_bytes=2000, backups=2)  # again: one handler, not two
    ours = [h for h in logging.getLogger().handlers if getattr(h, "_swarm_structured", False)]
    assert len(ours) == 1
    log = logging.getLogger("swarm.test")
    for i in range(200):
        log.warning("line %d", i, extra={"pad": "x" * 50})
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == [logs.LOG_FILE, logs.LOG_FILE + ".1", logs.LOG_FILE + ".2"]
    assert path.stat().st_size <= 2000
    assert logs.read(path)[-1]["msg"] == "line 199"
    assert len(path.read_text().splitlines()) == len(logs.read(path, last=10_000))


def test_bad_level_and_cut_lines(tmp_path, restore_logging):
    with pytest.raises(SwarmError) as err:
        logs.configure(Home(tmp_path), level="LOUD")
    assert err.value.reason == "bad-log-level"
    path = tmp_path / "cut.jsonl"
    path.write_text('{"msg": "whole"}\n{"msg": "cut sho')
    assert logs.read(path) == [{"msg": "whole"}]
    assert logs.read(tmp_path / "missing.jsonl") == []
