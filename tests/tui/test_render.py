"""The dashboard as pure functions of snapshots, rendered to text at fixed terminal sizes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from swarmclient.tui import Connection, PeerView, render_devnet, render_peer
from swarmclient.tui import fields as f
from swarmclient.tui.charts import column_chart, sparkline
from tui_snapshots import ACCOUNT, NOW_S, OTHERS, PEER, garbage, realistic, synthetic_today

SIZES = [(80, 24), (120, 40)]
EVENTS = [
    {"type": "phase", "phase": "running", "ts_ms": int(NOW_S * 1000) - 3000},
    {"type": "round", "round": 89, "ts_ms": int(NOW_S * 1000) - 1000},
    {"type": "received", "from": OTHERS[0], "round": 89, "bytes": 48_000, "latency_ms": 23.4, "ts_ms": int(NOW_S * 1000)},
]


def draw(view: PeerView, width: int, height: int) -> str:
    console = Console(record=True, width=width, height=height, file=open("/dev/null", "w"))
    console.print(render_peer(view, width, height), height=height)
    return console.export_text()


def check_fits(text: str, width: int, height: int) -> list[str]:
    lines = text.rstrip("\n").split("\n")
    assert len(lines) == height, f"{len(lines)} lines for a {height}-line terminal"
    assert max(len(line) for line in lines) <= width
    return lines


@pytest.mark.parametrize("width,height", SIZES)
def test_realistic_snapshot(width, height):
    view = PeerView.of(realistic(), now_s=NOW_S, events=EVENTS, rates={"rollouts_out": 0.5, "rollouts_in": 1.25})
    text = draw(view, width, height)
    lines = check_fits(text, width, height)
    assert PEER in lines[0]  # the full id fits in the header at 80 columns
    assert "0x8ba1…BA72" in text and ACCOUNT not in text
    assert "phase running" in text and "up 3m05s" in text and "connected" in text
    for title in ("Round", "Peers (2 connected)", "Claims", "Stake", "Games (1)", "Log"):
        assert f"─ {title} ─" in text, title
    assert "90 / 500" in text  # round index 89 shown 1-based
    assert "8 local · 4 external" in text
    assert "0.438" in text  # reward_mean to 3 places
    assert "out 0.5/s" in text and "in 1.2/s" in text
    assert "finalized 85" in text and "pending 2" in text and "challenged" in text
    assert "1,000.00 AI" in text and "1,234.56 AI" in text and "10,433" in text
    assert "4:31" in text and "1:35" in text and "op 1,204" in text  # game clocks and position
    assert "received round 89 from" in text and "46.9 KB" in text
    # Peer ids in tables keep their distinguishing tail, never the shared 12D3KooW prefix.
    assert OTHERS[0][-10:] in text and "12D3KooWBx" not in text
    assert "some_future_section" not in text
    if width >= 100:
        assert "─ Reward ─" in text and "over 89 rounds" in text
        assert "─ Rollouts ─" in text and "bad-signature 3" in text and "p95 88 ms" in text
        assert "12.5" in text  # a peer's score
        assert "█" in text  # the reward chart
    else:
        assert "─ Reward ─" not in text  # compact: the sparkline in the Round panel instead
        assert re.search(r"reward\s+0\.438\s+[▁▂▃▄▅▆▇█]{5,}", text)


@pytest.mark.parametrize("width,height", SIZES)
def test_missing_sections_say_not_available(width, height):
    text = draw(PeerView.of(synthetic_today(), now_s=NOW_S), width, height)
    check_fits(text, width, height)
    assert "not available (no chain)" in text
    assert "no rewards yet" in text and "no events yet" in text
    assert "90 out · 178 in" in text  # the synthetic runtime's batches instead of samples
    if width >= 100:
        assert "─ Games ─" in text


@pytest.mark.parametrize("width,height", SIZES)
def test_garbage_values_render_as_dashes(width, height):
    text = draw(PeerView.of(garbage(), now_s=NOW_S, events=[{"type": 5}, {"ts_ms": "x"}, {}]), width, height)
    check_fits(text, width, height)
    assert "unknown peer" in text and "not started" in text
    assert "unreadable" not in text  # garbage is handled field by field, not by the guard
    assert "stake   -" in text


@pytest.mark.parametrize("width,height", SIZES)
def test_empty_snapshot_and_no_snapshot(width, height):
    for snap in ({}, None):
        text = draw(PeerView.of(snap, now_s=NOW_S), width, height)
        check_fits(text, width, height)
        assert "not available" in text


def test_gone_peer_says_since_when_and_reconnecting():
    view = PeerView.of(realistic(), connection=Connection.GONE, since_s=NOW_S - 5, now_s=NOW_S)
    text = draw(view, 80, 24)
    assert f"peer gone since {f.fmt_clock(NOW_S - 5)}, reconnecting…" in text
    waiting = draw(PeerView.of(None, connection=Connection.CONNECTING, target="/tmp/h/control.sock",
                               error="no peer is running"), 80, 24)
    assert "waiting for a peer at /tmp/h/control.sock" in waiting


def test_peer_errors_show_in_the_log():
    snap = synthetic_today()  # no games: the log gets the bottom 8 rows at 80x24
    snap["errors"] = ["old one", "round 3: publish failed: too-large", "not meshed after 60 s (connected 0, wanted 3)"]
    text = draw(PeerView.of(snap, now_s=NOW_S, events=EVENTS), 80, 24)
    assert "error: not meshed after 60 s" in text and "error: round 3: publish failed" in text
    assert "old one" not in text
    assert "received round 89 from" in text  # events still shown above the errors


def test_many_peers_are_cut_to_the_panel_with_a_count():
    snap = realistic()
    caps = snap["node"]["capabilities"]
    for i in range(40):
        caps[f"12D3KooWextra{i:04d}xxxxxxxxxxxxxxxx"] = {"last_seen_ms": 0, "capabilities": {}}
    text = draw(PeerView.of(snap, now_s=NOW_S), 80, 24)
    assert re.search(r"… \d+ more", text)


def test_devnet_table():
    console = Console(record=True, width=120, file=open("/dev/null", "w"))
    console.print(render_devnet([realistic(), None, garbage()], title="swarm devnet: 2/3 peers",
                                states=["running", "exited 1", None]))
    text = console.export_text()
    assert "swarm devnet: 2/3 peers" in text
    assert PEER[-15:] in text and "90/500" in text and "0.438" in text and "85✓" in text
    assert "exited 1" in text
    assert "2/3 answering" in text and "rollouts out 90 in 178" in text


def test_formatters():
    assert f.fmt_tokens(str(1234_560 * 10**15)) == "1,234.56 AI"
    assert f.fmt_tokens(-5 * 10**17) == "-0.50 AI"
    assert f.fmt_tokens("lots") == f.DASH and f.fmt_tokens(1, decimals=99) == f.DASH
    assert f.fmt_duration(65) == "1m05s" and f.fmt_duration(7380) == "2h03m" and f.fmt_duration(-1) == f.DASH
    assert f.fmt_bytes(48_000) == "46.9 KB" and f.fmt_bytes(12) == "12 B"
    assert f.short_id(PEER, 10) == "…" + PEER[-9:] and f.short_id(None) == "?"
    assert f.as_num(True) is None and f.as_num("nan") is None and f.as_int("12") == 12
    assert f.as_str("a\x1b[2Jb") == "a [2Jb"  # a peer cannot send terminal escapes


def test_charts():
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7], 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([3, 3, 3], 10) == "▁▁▁"  # flat series: no division by zero
    assert len(sparkline(list(range(1000)), 20)) == 20
    lines = column_chart([0, 1], 2, 2)
    assert lines == [" █", "▁█"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
section_names = st.sampled_from(
    ["peer_id", "address", "phase", "round", "rounds_total", "round_seconds", "t0", "started_ms", "batches",
     "node", "training", "claims", "chain", "games", "pid"]
)


@settings(max_examples=40)
@given(snapshot=st.dictionaries(section_names, json_values, max_size=10))
def test_any_json_snapshot_renders(snapshot):
    text = draw(PeerView.of(snapshot, now_s=NOW_S), 80, 24)
    check_fits(text, 80, 24)
    assert "unreadable" not in text
