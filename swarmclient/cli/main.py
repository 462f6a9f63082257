"""`swarm`: the command line. Each subcommand lives in its own module under
swarmclient/cli/ and registers itself through `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys

from swarmclient.errors import SwarmError

# One module per group of subcommands; each defines register(subparsers), and every parser
# it adds sets `func` (a callable taking the parsed args and returning an exit code).
COMMAND_MODULES = [
    "swarmclient.cli.identity_cmd",
    "swarmclient.cli.chain_cmd",
    "swarmclient.cli.peer_cmd",
    "swarmclient.cli.join_cmd",
    "swarmclient.cli.devnet_cmd",
    "swarmclient.cli.top_cmd",
    "swarmclient.cli.experiment_cmd",
    "swarmclient.cli.state_cmd",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="swarm",
        description="A peer of a decentralised RL swarm: SAPO on RepOps, Verde disputes on an EVM chain.",
    )
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="state directory (default: $SWARM_HOME or ~/.swarm)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


# Each package's one error type. Only packages already imported can have raised, so the CLI
# looks them up in sys.modules instead of importing torch or libp2p just to catch errors.
_ERROR_TYPES = {
    "swarmclient.errors": "SwarmError",
    "protocol.errors": "ProtocolError",
    "repops.errors": "RepOpsError",
    "verde.errors": "VerdeError",
}


def _known_errors() -> tuple[type[BaseException], ...]:
    return tuple(
        getattr(sys.modules[module], name) for module, name in _ERROR_TYPES.items() if module in sys.modules
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except _known_errors() as exc:
        print(f"swarm: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
