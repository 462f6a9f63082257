"""`swarm init` and `swarm identity show | export | import`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from swarmclient import config as config_mod
from swarmclient.errors import SwarmError
from swarmclient.home import Home


def _identity_module():
    """Imported on use: it loads libp2p (seconds), which `swarm --help` and other commands need not pay."""
    from swarmclient import identity

    return identity


def _read_passphrase(path: str | None) -> str | None:
    if not path:
        return None
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise SwarmError("passphrase", f"cannot read passphrase file {path}: {exc.strerror}") from exc
    passphrase = text.rstrip("\n")
    if not passphrase:
        raise SwarmError("passphrase", f"passphrase file {path} is empty")
    return passphrase


def cmd_init(args: argparse.Namespace) -> int:
    identity_mod = _identity_module()
    home = Home.resolve(args.home)
    if identity_mod.exists(home) and not args.force:
        raise SwarmError(
            "identity-exists",
            f"{home.root} already has an identity; `swarm identity show` prints it, --force replaces it",
        )
    identity = identity_mod.Identity.generate()
    identity_mod.save(identity, home, force=args.force)
    if not home.config.exists() or args.force:
        cfg = config_mod.Config(swarm_id=args.swarm_id)
        home.config.write_text(config_mod.render(cfg))
    summary = {**identity.summary(), "home": str(home.root), "config": str(home.config)}
    _print(summary, args.json)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    identity_mod = _identity_module()
    home = Home.resolve(args.home)
    identity = identity_mod.load(home)
    _print({**identity.summary(), "home": str(home.root)}, args.json)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    identity_mod = _identity_module()
    home = Home.resolve(args.home)
    identity = identity_mod.load(home)
    passphrase = _read_passphrase(args.passphrase_file)
    bundle = identity_mod.export_bundle(identity, passphrase)
    out = Path(args.file)
    if out.exists() and not args.force:
        raise SwarmError("exists", f"{out} exists; pass --force to overwrite")
    identity_mod.write_export(out, bundle)
    note = "encrypted" if passphrase else "UNENCRYPTED (mode 0600); consider --passphrase-file"
    print(f"exported {identity.peer_id.to_base58()} to {out}, {note}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    identity_mod = _identity_module()
    home = Home.resolve(args.home)
    try:
        bundle = json.loads(Path(args.file).read_text())
    except OSError as exc:
        raise SwarmError("bad-export", f"cannot read {args.file}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise SwarmError("bad-export", f"{args.file} is not JSON ({exc})") from exc
    identity = identity_mod.import_bundle(bundle, _read_passphrase(args.passphrase_file))
    identity_mod.save(identity, home, force=args.force)
    if not home.config.exists():
        home.config.write_text(config_mod.render(config_mod.Config()))
    _print({**identity.summary(), "home": str(home.root)}, args.json)
    return 0


def _print(data: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key:<{width}}  {value}")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("init", help="create an identity and a default config.toml")
    p.add_argument("--force", action="store_true", help="replace an existing identity")
    p.add_argument("--swarm-id", default="public", help="swarm to join (default: public)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_init)

    p = subparsers.add_parser("identity", help="show, export or import this peer's identity")
    sub = p.add_subparsers(dest="identity_command", metavar="ACTION", required=True)
    s = sub.add_parser("show", help="print peer id and account address")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_show)
    s = sub.add_parser("export", help="write both keys to one file")
    s.add_argument("file")
    s.add_argument("--passphrase-file", help="encrypt with the passphrase in this file ('-' for stdin)")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=cmd_export)
    s = sub.add_parser("import", help="restore an identity from an export")
    s.add_argument("file")
    s.add_argument("--passphrase-file", help="passphrase of an encrypted export ('-' for stdin)")
    s.add_argument("--force", action="store_true", help="replace an existing identity")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_import)
