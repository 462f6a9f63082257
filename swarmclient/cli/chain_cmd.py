"""`swarm chain up | deploy | status | selftest`: run, deploy to and inspect the settlement chain."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from pathlib import Path

import trio

from swarmclient.errors import SwarmError, leaf_error
from swarmclient.home import Home


def _leaf_error(error: BaseException) -> BaseException:
    """The one ProtocolError/SwarmError inside trio's exception groups, if there is one."""
    from protocol.errors import ProtocolError

    if not isinstance(error, BaseExceptionGroup):
        return error
    return leaf_error(error, (ProtocolError, SwarmError)) or error


def _trio_run(fn, *args):
    """trio.run, but a failure reported by a nursery comes out as the plain error, so the CLI
    prints its one-line reason instead of an exception group's traceback."""
    try:
        return trio.run(fn, *args)
    except BaseExceptionGroup as group:
        leaf = _leaf_error(group)
        if leaf is group:
            raise
        raise leaf from None


def _deployment_path(args: argparse.Namespace) -> Path:
    if getattr(args, "deployment", None):
        return Path(args.deployment)
    return Home.resolve(args.home).root / "chain" / "deployment.json"


def _emit(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2, default=str))
    else:
        for key, value in data.items():
            print(f"{key:>14}: {value}")


def cmd_selftest(args: argparse.Namespace) -> int:
    from protocol.chain import open_chain
    from protocol.chain.selftest import run_selftest

    chain = open_chain(args.chain, args.rpc)
    rows: list[dict] = []

    def on_step(step) -> None:
        rows.append({"step": step.label, "gas": step.gas, "ms": round(step.seconds * 1000, 1), "note": step.note})
        if not args.json:
            gas = f"{step.gas:>10,d}" if step.gas else " " * 10
            print(f"{step.label:<44} {gas} gas {step.seconds * 1000:8.1f} ms  {step.note}", flush=True)

    try:
        if not args.json:
            print(f"chain selftest on {chain.kind} (chain id {chain.chain_id})")
        _trio_run(lambda: run_selftest(chain, on_step=on_step))
    finally:
        chain.close()
    outcomes = [r["step"] for r in rows if "outcome" in r["step"]]
    ok = len(outcomes) == 2 and all("challenger_won" in o for o in outcomes)
    if args.json:
        print(json.dumps({"chain": args.chain, "ok": ok, "steps": rows}, indent=2))
    else:
        print("selftest: ok" if ok else "selftest: FAILED")
    return 0 if ok else 1


async def _deploy(chain, account, fund: bool):
    from protocol.chain import TxWorker, deploy

    if fund:
        await trio.to_thread.run_sync(chain.fund, account.address, 100 * 10**18)
    async with trio.open_nursery() as nursery:
        worker = TxWorker(chain.w3, account)
        await nursery.start(worker.serve)
        deployment = await deploy(chain.w3, worker)
        nursery.cancel_scope.cancel()
    return deployment


def _account(args: argparse.Namespace):
    """The identity's account when there is one, else a throwaway (dev chains only)."""
    from eth_account import Account

    from swarmclient import identity as identity_mod

    home = Home.resolve(args.home)
    if identity_mod.exists(home):
        return identity_mod.load(home).account
    return Account.create()


def cmd_up(args: argparse.Namespace) -> int:
    from protocol.chain import open_chain
    from protocol.chain.rpc_server import serve_embedded

    path = _deployment_path(args)
    chain = open_chain("embedded" if args.backend == "embedded" else "anvil")
    try:
        async def main() -> None:
            # Deploy before serving: py-evm must not see the deployer and a remote call at once.
            deployment = None if args.no_deploy else await _deploy(chain, _account(args), True)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_sigterm, nursery.cancel_scope)
                if chain.kind == "embedded":
                    port = await nursery.start(lambda task_status: serve_embedded(chain.w3, port=args.port, task_status=task_status))
                    url = f"http://127.0.0.1:{port}"
                else:
                    url = chain.url
                if deployment is not None:
                    deployment.save(path, rpc_url=url)
                _announce(url, chain, deployment, path, args.json)
                await trio.sleep_forever()

        _trio_run(main)
    except KeyboardInterrupt:
        return 0
    finally:
        chain.close()
    return 0


async def _stop_on_sigterm(scope: trio.CancelScope) -> None:
    """`kill` must stop anvil too: SIGTERM ends the serving loop so `finally` runs."""
    with trio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            scope.cancel()
            return


def _announce(url: str, chain, deployment, path: Path, as_json: bool) -> None:
    info = {"rpc": url, "chain_id": chain.chain_id, "backend": chain.kind,
            "deployment": str(path) if deployment else None}
    if deployment:
        info.update({n.lower(): a for n, a in deployment.addresses.items()})
    _emit(info, as_json)
    if not as_json:
        print("serving until Ctrl-C", file=sys.stderr)
    sys.stdout.flush()


def cmd_deploy(args: argparse.Namespace) -> int:
    from protocol.chain import open_chain

    if not args.rpc:
        raise SwarmError("chain", "swarm chain deploy needs --rpc URL (use `swarm chain up` for a local chain)")
    chain = open_chain("rpc", args.rpc)
    path = _deployment_path(args)
    deployment = _trio_run(_deploy, chain, _account(args), args.fund)
    deployment.save(path, rpc_url=args.rpc)
    _emit({"deployment": str(path), "chain_id": deployment.chain_id,
           **{n.lower(): a for n, a in deployment.addresses.items()}}, args.json)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from protocol.chain import ChainClient, load_deployment, open_chain

    from protocol.chain import check_deployment
    from protocol.chain.deployment import deployment_rpc_url

    path = _deployment_path(args)
    deployment = load_deployment(path)
    args.rpc = args.rpc or deployment_rpc_url(path)
    if not args.rpc:
        raise SwarmError("chain", "give --rpc URL (the one `swarm chain up` printed)")
    chain = open_chain("rpc", args.rpc)

    check_deployment(deployment, chain.w3)
    w3 = chain.w3
    info: dict = {"rpc": args.rpc, "chain_id": w3.eth.chain_id, "block": w3.eth.block_number,
                  **{n.lower(): a for n, a in deployment.addresses.items()}}
    account = _account(args)
    client = ChainClient(w3, deployment, account)

    async def mine() -> dict:
        stake = await client.registry.stake_of(account.address)
        return {"account": account.address, "eth": w3.eth.get_balance(account.address),
                "ai": await client.token.balance_of(account.address),
                "peer_key": "0x" + (await client.registry.peer_key_of(account.address)).hex(), **stake}

    info.update(_trio_run(mine))
    _emit(info, args.json)
    return 0


def register(subparsers) -> None:
    chain = subparsers.add_parser("chain", help="run, deploy to and inspect the settlement chain")
    sub = chain.add_subparsers(dest="chain_command", metavar="ACTION")

    up = sub.add_parser("up", help="run a local chain (embedded py-evm served over JSON-RPC, or anvil) and deploy")
    up.add_argument("--backend", choices=("embedded", "anvil"), default="embedded")
    up.add_argument("--port", type=int, default=8545, help="JSON-RPC port on 127.0.0.1 (embedded; 0 = any)")
    up.add_argument("--no-deploy", action="store_true", help="do not deploy the contracts")
    up.add_argument("--deployment", metavar="FILE", help="deployment file (default $SWARM_HOME/chain/deployment.json)")
    up.add_argument("--json", action="store_true")
    up.set_defaults(func=cmd_up)

    dep = sub.add_parser("deploy", help="deploy the contracts to a JSON-RPC node with your identity's account")
    dep.add_argument("--rpc", metavar="URL", required=False)
    dep.add_argument("--fund", action="store_true", help="fund the account from the node's dev account first")
    dep.add_argument("--deployment", metavar="FILE")
    dep.add_argument("--json", action="store_true")
    dep.set_defaults(func=cmd_deploy)

    st = sub.add_parser("status", help="chain id, block, contracts and your registration and stake")
    st.add_argument("--rpc", metavar="URL", help="default: the URL `swarm chain up` recorded in the deployment file")
    st.add_argument("--deployment", metavar="FILE")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    test = sub.add_parser("selftest", help="deploy and play register/stake/claim/game/slash, printing gas per step")
    test.add_argument("--chain", choices=("embedded", "anvil", "rpc"), default="embedded")
    test.add_argument("--rpc", metavar="URL", help="node URL for --chain rpc")
    test.add_argument("--json", action="store_true")
    test.set_defaults(func=cmd_selftest)
    chain.set_defaults(func=lambda args: chain.print_help() or 2)
