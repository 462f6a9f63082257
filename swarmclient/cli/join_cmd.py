"""`swarm join`: become a peer of a swarm in one command.

First run: an identity and config.toml are created (as `swarm init` does; given --bootstrap
and --listen are written into the new config). Then: the bootstrap addresses are checked
(malformed: an error; none reachable and no cached peer: an error, before anything heavy
starts), the device and its memory are detected and the training profile sized to fit
(runtime.device), `--stake` registers and stakes on the swarm's chain after a confirmation,
and the same PeerRuntime as a devnet peer runs: it trains, gossips, keeps durable state and
the peer cache. Progress goes to stdout (rich styling on a terminal, plain lines otherwise,
JSON lines with --json); the runtime's own log lines go to stderr.
Exit codes: 0 done or stopped by a signal, 2 a clear error (bad input, no peers, state), 1 a crash.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path
from typing import Any

from swarmclient import config as config_mod
from swarmclient.cli.argtypes import positive_float, positive_int
from swarmclient.errors import SwarmError, leaf_error
from swarmclient.home import Home

PROBE_TIMEOUT_S = 3.0
REPORT_EVERY_S = 0.5


class Progress:
    """Where join's progress goes: JSON lines, or rich lines (plain text when not a TTY)."""

    def __init__(self, as_json: bool) -> None:
        from rich.console import Console

        self.as_json = as_json
        self.console = Console(soft_wrap=True, highlight=False)

    def emit(self, event: str, text: str, **data: Any) -> None:
        if self.as_json:
            print(json.dumps({"event": event, "ts": round(time.time(), 3), **data}, default=str), flush=True)
        else:
            from rich.markup import escape

            stamp = time.strftime("%H:%M:%S")
            # Texts carry peer data and error messages: brackets in them are not markup.
            self.console.print(f"[dim]{stamp}[/dim] [bold cyan]{event:>12}[/bold cyan]  {escape(text)}", markup=True)
            sys.stdout.flush()


# -- first run -------------------------------------------------------------------------------


def ensure_home(home: Home, swarm_id: str | None, listen: list[str], bootstrap: list[str]) -> bool:
    """Create the identity and config on first run; True when something was created."""
    from swarmclient import identity as identity_mod

    created = False
    if not identity_mod.exists(home):
        identity_mod.save(identity_mod.Identity.generate(), home)
        created = True
    if not home.config.exists():
        network = config_mod.NetworkConfig(bootstrap=list(bootstrap))
        if listen:
            network = config_mod.NetworkConfig(listen=list(listen), bootstrap=list(bootstrap))
        cfg = config_mod.Config(swarm_id=swarm_id or "public", network=network)
        text = config_mod.render(cfg)
        config_mod.parse(text)  # never write a file we would refuse to read
        home.config.write_text(text)
        created = True
    return created


# -- bootstrap checks ------------------------------------------------------------------------


def tcp_endpoint(addr: str) -> tuple[str, int] | None:
    """(host, port) of a /ip4|ip6|dns*/.../tcp/<port> multiaddr; None for other transports."""
    parts = addr.split("/")
    host = port = None
    for i, p in enumerate(parts[:-1]):
        if p in ("ip4", "ip6", "dns", "dns4", "dns6"):
            host = parts[i + 1]
        elif p == "tcp":
            port = parts[i + 1]
    if host is None or port is None or not port.isdigit():
        return None
    return host, int(port)


def probe(addr: str) -> str:
    """'' when a TCP connection to the address opens, else why not (a quick pre-check: the
    libp2p handshake itself is the runtime's, bounded by --connect-timeout)."""
    endpoint = tcp_endpoint(addr)
    if endpoint is None:
        return "not a TCP address"
    try:
        with socket.create_connection(endpoint, timeout=PROBE_TIMEOUT_S):
            return ""
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_bootstrap(addrs: list[str], where: str = "--bootstrap") -> None:
    from swarmclient.net.discovery import parse_peer_addr

    for addr in addrs:
        try:
            parse_peer_addr(addr)
        except SwarmError as exc:
            raise SwarmError(exc.reason, f"{where}: {exc.detail}") from None


def devnet_entry(directory: Path) -> tuple[list[str], str]:
    """(bootstrap addresses, swarm id) of a local devnet, from its peers' homes: what a
    newcomer needs to join it (`swarm join --devnet DIR`)."""
    from swarmclient import identity as identity_mod
    from swarmclient.devnet.layout import DEVNET_SWARM_ID

    addrs = []
    for index in (0, 1):
        home = Home(directory / f"peer-{index}")
        if not (home.config.exists() and identity_mod.exists(home)):
            continue
        listen = config_mod.load(home.config).network.listen
        peer_id = identity_mod.load(home).peer_id.to_base58()
        addrs.extend(f"{a}/p2p/{peer_id}" for a in listen[:1])
    if not addrs:
        raise SwarmError("no-devnet", f"{directory} holds no devnet peer homes (peer-0/, peer-1/); start `swarm devnet` first")
    return addrs, DEVNET_SWARM_ID


def cached_peers(home: Home, enabled: bool) -> int:
    if not enabled:
        return 0
    from swarmclient.net.discovery import PeerCache

    cache = PeerCache(home.peer_cache)
    cache.load()
    return len(cache)


# -- staking ---------------------------------------------------------------------------------


def stake(args: argparse.Namespace, home: Home, config: Any, progress: Progress) -> None:
    import trio

    from swarmclient import identity as identity_mod
    from swarmclient.runtime import staking

    identity = identity_mod.load(home)
    target = staking.chain_target(home, config, args.rpc, args.deployment)

    async def plan_and_send() -> dict[str, Any] | None:
        client = await staking.open_client(target, identity)
        async with trio.open_nursery() as nursery:
            await nursery.start(client.worker.serve)
            plan = await staking.plan_stake(client, target.rpc, args.stake)
            progress.emit("stake-plan", _plan_text(plan), **plan.as_json())
            problems = plan.problems()
            if problems:
                raise SwarmError("cannot-stake", "; ".join(problems))
            if not args.yes and not await trio.to_thread.run_sync(confirm, plan):
                nursery.cancel_scope.cancel()
                return None
            done = await staking.execute_stake(client, identity, plan)
            nursery.cancel_scope.cancel()
            return done

    result = _run_trio(plan_and_send)
    if result is None:
        raise SwarmError("not-confirmed", "staking declined; nothing was sent (run again without --stake to only join)")
    progress.emit("staked", f"staked {result['staked_ai']:g} AI", **result)


def _plan_text(plan: Any) -> str:
    steps = ([] if plan.registered else ["register the peer key"]) + (
        [f"approve and stake {plan.to_add / 10**18:g} AI"] if plan.to_add else ["nothing to add"]
    )
    return (f"account {plan.account} on chain {plan.chain_id}: {', '.join(steps)} "
            f"(holds {plan.ai / 10**18:g} AI, staked {plan.staked / 10**18:g})")


def confirm(plan: Any) -> bool:
    if not sys.stdin.isatty():
        raise SwarmError("confirm", "staking needs a confirmation: run in a terminal, or pass --yes")
    answer = input(f"Send these transactions from {plan.account}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def _run_trio(fn: Any) -> Any:
    import trio

    try:
        return trio.run(fn)
    except BaseExceptionGroup as group:
        from protocol.errors import ProtocolError

        leaf = leaf_error(group, SwarmError) or leaf_error(group, ProtocolError)
        if leaf is None:
            raise
        raise leaf from None


# -- progress while running ------------------------------------------------------------------


def make_reporter(progress: Progress, summary: dict[str, Any]):
    """An observer for run_peer: reports phase, listen addresses, connections and capability
    adverts, reachability and every trained round, as they change."""

    async def report(runtime: Any) -> None:
        import trio

        seen: dict[str, Any] = {"phase": None, "connected": set(), "caps": set(), "verdict": None, "rounds": 0,
                                "errors": 0, "listen": None}
        try:
            while True:
                _report_once(runtime, progress, seen, summary)
                await trio.sleep(REPORT_EVERY_S)
        finally:
            # Rounds finished since the last look (the node is closing: only the training).
            _report_rounds(runtime, progress, seen, summary)

    return report


def _report_once(runtime: Any, progress: Progress, seen: dict[str, Any], summary: dict[str, Any]) -> None:
    if runtime.phase != seen["phase"]:
        seen["phase"] = runtime.phase
        progress.emit("phase", runtime.phase, phase=runtime.phase)
    node = runtime.node
    if node is not None and node.started.is_set():
        listen = tuple(node.listen_addrs)
        if listen != seen["listen"]:
            seen["listen"] = listen
            progress.emit("listening", ", ".join(listen), addrs=list(listen))
        connected = set(node.host.get_connected_peers())
        names = {p.to_base58() for p in connected}
        for peer in sorted(names - seen["connected"]):
            progress.emit("connected", peer, peer_id=peer, peers=len(names))
        for peer in sorted(seen["connected"] - names):
            progress.emit("disconnected", peer, peer_id=peer, peers=len(names))
        seen["connected"] = names
        caps = node.capabilities()
        for peer in sorted(set(caps) - seen["caps"]):
            c = caps[peer].capabilities
            progress.emit("capabilities", f"{peer[-12:]}: {c.device_kind} {c.model} ({c.device_name[:40]})",
                          peer_id=peer, device=c.device_kind, model=c.model)
        seen["caps"] = set(caps)
        reach = runtime.reach.report(list(listen))
        if reach.verdict != seen["verdict"]:
            seen["verdict"] = reach.verdict
            progress.emit("reachability", f"{reach.verdict}: {reach.detail}", **reach.as_json())
        summary.update(peers=len(names), reachability=reach.verdict, peer_id=runtime.peer_id)
    _report_rounds(runtime, progress, seen, summary)
    for err in runtime.errors[seen["errors"]:]:
        progress.emit("warning", err, message=err)
    seen["errors"] = len(runtime.errors)


def _report_rounds(runtime: Any, progress: Progress, seen: dict[str, Any], summary: dict[str, Any]) -> None:
    training = runtime.training
    if training is not None and len(training.records) != seen["rounds"]:
        for rec in training.records[seen["rounds"]:]:
            stats = training.loop.stats() if training.loop is not None else None
            progress.emit(
                "round",
                f"{rec.round}: reward {rec.batch_reward:.3f}, loss {rec.loss:.4f}, "
                f"{rec.local_samples} local + {rec.external_samples} external samples "
                f"from {len(rec.external_peers)} peer(s), checkpoint {rec.ckpt_after.hex()[:12]}",
                round=rec.round, reward=rec.batch_reward, loss=rec.loss, local_samples=rec.local_samples,
                external_samples=rec.external_samples, external_peers=len(rec.external_peers),
                checkpoint=rec.ckpt_after.hex(), pooled=stats.pooled if stats else None,
            )
        seen["rounds"] = len(training.records)
        summary["rounds_trained"] = seen["rounds"]
    elif training is None and runtime.round >= 0:
        summary["rounds_published"] = runtime.round + 1


# -- the command -----------------------------------------------------------------------------


def cmd_join(args: argparse.Namespace) -> int:
    from swarmclient.net.host import parse_multiaddrs
    from swarmclient.runtime import RuntimeOptions, run_peer
    from swarmclient.runtime.device import choose_profile, detect_device

    progress = Progress(args.json)
    home = Home.resolve(args.home)
    bootstrap = list(args.bootstrap or [])
    listen = list(args.listen or [])
    if args.devnet:
        devnet_addrs, devnet_id = devnet_entry(Path(args.devnet))
        bootstrap += devnet_addrs
        args.swarm_id = args.swarm_id or devnet_id
        listen = listen or ["/ip4/127.0.0.1/tcp/0"]  # a devnet lives on loopback
    check_bootstrap(bootstrap)
    parse_multiaddrs(listen)
    if ensure_home(home, args.swarm_id, listen, bootstrap):
        progress.emit("created", f"identity and config in {home.root}", home=str(home.root))
    config = config_mod.load(home.config)
    check_bootstrap(config.network.bootstrap, f"{home.config} network.bootstrap")
    swarm_id = args.swarm_id or config.swarm_id
    targets = list(dict.fromkeys([*config.network.bootstrap, *bootstrap]))
    cached = cached_peers(home, config.network.peer_cache)
    if not targets and not cached:
        raise SwarmError("no-bootstrap", "no bootstrap peers: pass --bootstrap /ip4/<ip>/tcp/<port>/p2p/<peer id> "
                         "or set network.bootstrap in config.toml")

    device = detect_device(config.device.kind)
    sizing = choose_profile(device, config.device.max_memory_fraction, args.profile)
    mib = 1 << 20
    progress.emit(
        "device",
        f"{device.kind} ({device.name}), RAM {device.ram_available // mib}/{device.ram_total // mib} MiB free"
        + (f", GPU {device.accel_free // mib}/{device.accel_total // mib} MiB free" if device.accel_total else "")
        + f": profile {sizing.profile} (needs ~{sizing.ram_need // mib} MiB; {sizing.reason})",
        **sizing.as_json(),
    )
    if args.stake is not None:
        stake(args, home, config, progress)

    reachable = []
    for addr in targets:
        why = probe(addr)
        if why:
            progress.emit("bootstrap", f"{addr}: unreachable ({why})", addr=addr, ok=False, error=why)
        else:
            reachable.append(addr)
            progress.emit("bootstrap", f"{addr}: reachable", addr=addr, ok=True)
    if not reachable and not cached:
        raise SwarmError("bootstrap-unreachable", f"none of the {len(targets)} bootstrap peer(s) accepts connections "
                         "and the peer cache is empty; check the address, the port and that the peer runs")
    if cached:
        progress.emit("peer-cache", f"{cached} peer(s) remembered in {home.peer_cache}", peers=cached)

    options = RuntimeOptions(
        rounds=args.rounds,
        round_seconds=args.round_seconds,
        stats_out=Path(args.stats_out) if args.stats_out else None,
        expect_peers=1,
        ready_timeout=args.connect_timeout,
        require_peers=True,
        training="synthetic" if args.synthetic else "sapo",
        warm_steps=args.warm_steps,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        profile=sizing.profile,
        bootstrap=tuple(bootstrap),
        listen=tuple(listen) if listen else None,
        swarm_id=swarm_id if args.swarm_id else None,
        device=device,
    )
    summary: dict[str, Any] = {}
    code = run_peer(home, options, observers=(make_reporter(progress, summary),), name="swarm join")
    progress.emit("stopped", f"exit {code}: {json.dumps(summary)}", exit_code=code, **summary)
    return code


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "join",
        help="join a swarm: create identity/config if needed, connect, size to this machine, train",
        description="Join a swarm as a training peer. The first run creates an identity and config.toml. "
        "Exit code 0 when done or stopped, 2 on a clear error (bad input, no peers, damaged state).",
    )
    p.add_argument("--bootstrap", action="append", metavar="MULTIADDR",
                   help="a peer to dial, /ip4/<ip>/tcp/<port>/p2p/<peer id> (repeatable; added to config.toml's)")
    p.add_argument("--listen", action="append", metavar="MULTIADDR",
                   help="listen address (repeatable; default from config.toml, /ip4/0.0.0.0/tcp/4001)")
    p.add_argument("--swarm-id", help="swarm to join (default: config.toml's, 'public' for a new home)")
    p.add_argument("--devnet", metavar="DIR",
                   help="join the local devnet in DIR (its peers' addresses and swarm id; listen on 127.0.0.1)")
    p.add_argument("--profile", choices=("micro", "tiny", "small", "base"),
                   help="training size (default: the largest that fits this device)")
    p.add_argument("--stake", type=positive_float, metavar="AI", help="register the peer key and stake this many AI")
    p.add_argument("--yes", action="store_true", help="do not ask before sending staking transactions")
    p.add_argument("--rpc", metavar="URL", help="the chain's JSON-RPC URL (default: from the deployment file)")
    p.add_argument("--deployment", metavar="FILE", help="the swarm's deployment.json (default $SWARM_HOME/chain/)")
    p.add_argument("--rounds", type=positive_int, help="stop after this many rounds (default: until Ctrl-C)")
    p.add_argument("--round-seconds", type=positive_float, default=2.0, help="length of a round (default 2)")
    p.add_argument("--connect-timeout", type=positive_float, default=60.0, metavar="S",
                   help="give up when no peer is connected after S seconds (default 60)")
    p.add_argument("--synthetic", action="store_true", help="synthetic rollouts, no training (network tests)")
    p.add_argument("--warm-steps", type=positive_int, metavar="N", help="SAPO supervised warm-start steps")
    p.add_argument("--stats-out", metavar="FILE", help="write the final stats snapshot here as JSON")
    p.add_argument("--json", action="store_true", help="progress as JSON lines on stdout")
    p.add_argument("--cache-dir", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_join)
