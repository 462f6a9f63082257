"""The round loop (trio component) and the in-process multi-peer experiment."""

from __future__ import annotations

from protocol.wire.codec import unpack


def _roundtrip(kind, body):
    """Through the real wire codec: canonical bytes and back."""
    return kind.load(unpack(body.encode(), 1 << 20))

import json

import pytest
import trio

from protocol.wire import Claim, RolloutBatch
from swarmclient.cli.main import main as swarm_main
from swarmclient.errors import SwarmError
from swarmclient.sapo import experiment as ex
from swarmclient.sapo.rounds import ExternalPool, RoundSettings, Transport, from_wire, serve
from swarmclient.sapo.update import SapoLearner


class _Hub:
    """Gossip's delivery semantics in memory: every published batch reaches every other
    subscriber's inbound channel (bounded; a full channel drops, as a slow gossip peer would)."""

    def __init__(self) -> None:
        self.inboxes: dict[str, trio.MemorySendChannel] = {}
        self.claims: list[tuple[str, Claim]] = []

    def transport(self, peer: str) -> Transport:
        send, receive = trio.open_memory_channel(64)
        self.inboxes[peer] = send

        async def publish_rollouts(batch: RolloutBatch) -> None:
            wire = _roundtrip(RolloutBatch, batch)  # through the real codec
            for other, inbox in self.inboxes.items():
                if other != peer:
                    try:
                        inbox.send_nowait((peer, wire))
                    except trio.WouldBlock:
                        pass

        async def publish_claim(claim: Claim) -> None:
            self.claims.append((peer, _roundtrip(Claim, claim)))

        return Transport(publish_rollouts, publish_claim, receive)


async def test_peers_exchange_rollouts_and_record_each_update(small_cfg, warm_model):
    hub = _Hub()
    names = ["alice", "bob", "carol"]
    learners = {n: SapoLearner(n, small_cfg, warm_model) for n in names}
    transports = {n: hub.transport(n) for n in names}
    records: dict[str, list] = {n: [] for n in names}
    loops = {}
    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for n in names:
                loops[n] = await nursery.start(
                    lambda n=n, **kw: serve(
                        learners[n], transports[n], RoundSettings(rounds=3, gather_seconds=3.0), on_round=records[n].append, **kw
                    )
                )
    for n in names:
        assert [r.round for r in records[n]] == [0, 1, 2]
        # From round 1 on, the others' round-0 batches have certainly arrived.
        assert any(r.external_samples > 0 for r in records[n])
        for r in records[n]:
            assert r.local_samples + r.external_samples == (small_cfg.local_groups + small_cfg.external_groups) * small_cfg.group_size
            assert set(r.external_peers) <= set(names) - {n}
        stats = loops[n].stats().as_dict()
        assert stats["round"] == 2 and stats["claims"] == 3 and len(stats["reward_history"]) == 3
        assert {"round", "local_samples", "external_samples", "reward_mean", "reward_history", "loss"} <= set(stats)
    assert len(hub.claims) == 9
    # Consecutive claims of a peer chain checkpoints.
    for n in names:
        chain = [c for p, c in hub.claims if p == n]
        assert all(a.ckpt_after == b.ckpt_before for a, b in zip(chain, chain[1:]))


async def test_a_silent_swarm_never_blocks_a_round(small_cfg, warm_model):
    hub = _Hub()
    transport = hub.transport("lonely")
    hub.transport("dead")  # subscribed, never publishes
    records = []
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            await nursery.start(
                lambda **kw: serve(
                    SapoLearner("lonely", small_cfg, warm_model), transport, RoundSettings(rounds=2, gather_seconds=0.2),
                    on_round=records.append, **kw,
                )
            )
    assert [r.external_samples for r in records] == [0, 0]
    # fill_with_local: the missing externals are replaced by further local groups.
    assert all(r.local_groups == small_cfg.local_groups + small_cfg.external_groups for r in records)


def test_external_pool_is_bounded_and_never_reuses_a_group(small_cfg, warm_model):
    learner = SapoLearner("x", small_cfg, warm_model)
    groups = [g.group for g in learner.generate(0)]
    pool = ExternalPool(capacity=3, max_age_s=10.0)
    pool.add(groups, now=0.0)
    assert len(pool) == 3  # oldest dropped
    taken = pool.take(now=1.0)
    assert len(taken) == 3 and len(pool) == 0
    pool.add(groups, now=2.0)
    assert len(pool) == 0 or all(g not in taken for g in pool.take(now=2.0))
    pool.add([groups[0]], now=0.0)
    assert pool.take(now=100.0) == []  # too old


def test_mean_ci_and_mix_parsing():
    assert ex.parse_mix("8/0, 4/4") == [(8, 0), (4, 4)]
    m, h = ex.mean_ci([1.0, 2.0, 3.0])
    assert m == 2.0 and abs(h - 4.303 * 1.0 / 3**0.5) < 1e-9
    assert ex.mean_ci([5.0]) == (5.0, 0.0)


def test_experiment_cli_writes_json_and_plot(tmp_path, small_cfg, warm_cache, capsys):
    out, plot = tmp_path / "out.json", tmp_path / "out.png"
    code = swarm_main([
        "--home", str(tmp_path / "home"), "experiment", "sapo", "--peers", "2", "--rounds", "2", "--mix", "8/0,1/1",
        "--seeds", "2", "--workers", "1", "--warm-steps", "2", "--json", str(out), "--plot", str(plot),
        "--tasks", "max,count,reverse", "--specialties", "max,count", "--drop-zero-advantage", "--group-size", "3",
    ])
    assert code == 0
    summary = json.loads(out.read_text())
    assert set(summary["configs"]) == {"8/0", "1/1"}
    assert summary["settings"]["specialties"] == ["max", "count"]
    assert summary["settings"]["sapo"]["drop_zero_advantage"] is True and summary["settings"]["sapo"]["group_size"] == 3
    for c in summary["configs"].values():
        assert len(c["reward_per_round"]) == 2 and len(c["cumulative_per_seed"]) == 2
        assert abs(c["cumulative"] - sum(c["cumulative_per_seed"]) / 2) < 1e-9
        # The reward splits into the peers' own specialty and the other tasks.
        assert len(c["own_specialty_reward_per_round_per_seed"]) == 2
        assert len(c["other_tasks_reward_per_round_per_seed"][0]) == 2
    paired = summary["vs_8_0_percent_paired"]
    if paired:  # absent only when a seed of 8/0 scored exactly 0
        assert len(paired["1/1"]["per_seed"]) == 2
    assert plot.stat().st_size > 1000
    assert "cumulative_reward" in capsys.readouterr().out


def test_probe_cli_reports_a_fixed_evaluation(tmp_path, capsys):
    code = swarm_main([
        "--home", str(tmp_path / "home"), "experiment", "probe", "--rounds", "2", "--every", "1", "--warm-steps", "2",
        "--tasks", "max,count", "--specialty", "max", "--instances", "2", "--group-size", "2",
    ])
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["round"] for r in rows] == [0, 1, 2]
    assert rows[0]["train_reward"] is None and rows[1]["train_reward"] is not None
    assert set(rows[0]["eval"]) == {"max", "count", "all"} and all(0 <= v <= 1 for v in rows[0]["eval"].values())


def test_specialists_are_warm_started_on_weighted_task_lists():
    base = ex.SapoConfig(tasks=("reverse", "sort", "count", "max"))
    strings = ex.specialty_config(base, "strings", 3)
    assert strings.tasks == ("reverse", "sort", "count", "max", "reverse", "sort", "reverse", "sort")
    assert ex.specialty_config(base, "count+max", 1).tasks == base.tasks
    assert ex.specialty_config(base, None) is base
    assert ex.specialty_of(base, "counting") == {"count", "max"}
    with pytest.raises(SwarmError):
        ex.specialty_config(base, "arithmetic")  # no task of it in the list
    settings = ex.ExperimentSettings(peers=3, specialties=("strings", "counting"))
    assert [ex.peer_specialty(settings, k) for k in range(3)] == ["strings", "counting", "strings"]


def test_from_wire_names_the_sender():
    from swarmclient.sapo.rounds import to_wire
    from swarmclient.sapo.batch import RolloutGroup

    g = RolloutGroup("p", "max@1", {"count": 5}, 3, ("9\n", "8\n"))
    batch = RolloutBatch(round=0, checkpoint=bytes(32), groups=to_wire([g]))
    assert from_wire("q", _roundtrip(RolloutBatch, batch)) == [RolloutGroup("q", "max@1", {"count": 5}, 3, ("9\n", "8\n"))]
