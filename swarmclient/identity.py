"""A peer's durable identity: an Ed25519 libp2p key (the peer id) and an Ethereum account.

Files live under `$SWARM_HOME/identity/`, mode 0600, in a directory of mode 0700:
- `peer.key`: the libp2p private key, protobuf-serialised as every libp2p implementation does;
- `eth.key`: the account's private key as 0x-prefixed hex.

Export bundles both into one JSON file. With a passphrase each secret is wrapped in the
Ethereum keystore v3 format (scrypt + AES-128-CTR, via eth-account), so an exported
identity can be stored anywhere; without one the bundle holds them in the clear, mode 0600.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from libp2p.crypto.ed25519 import Ed25519PrivateKey, create_new_key_pair
from libp2p.crypto.keys import KeyPair, KeyType
from libp2p.crypto.serialization import deserialize_private_key
from libp2p.peer.id import ID

from swarmclient.errors import SwarmError
from swarmclient.home import Home

EXPORT_FORMAT = "swarm-identity/1"


@dataclass(frozen=True)
class Identity:
    keypair: KeyPair
    account: LocalAccount

    @property
    def peer_id(self) -> ID:
        return ID.from_pubkey(self.keypair.public_key)

    @property
    def address(self) -> str:
        return self.account.address

    @classmethod
    def generate(cls) -> "Identity":
        return cls(create_new_key_pair(), Account.create())

    @classmethod
    def from_secrets(cls, peer_seed: bytes, eth_key: bytes) -> "Identity":
        """Rebuild from the 32-byte Ed25519 seed and the 32-byte account key."""
        private = Ed25519PrivateKey.from_bytes(peer_seed)
        return cls(KeyPair(private, private.get_public_key()), Account.from_key(eth_key))

    def peer_seed(self) -> bytes:
        return self.keypair.private_key.to_bytes()

    def eth_secret(self) -> bytes:
        return bytes(self.account.key)

    def summary(self) -> dict[str, str]:
        return {"peer_id": self.peer_id.to_base58(), "address": self.address}


def _write_secret(path: Path, data: bytes) -> None:
    """Write a secret with mode 0600 from the first byte (no window where it is world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def exists(home: Home) -> bool:
    return home.peer_key.exists() or home.eth_key.exists()


def save(identity: Identity, home: Home, *, force: bool = False) -> None:
    if exists(home) and not force:
        raise SwarmError(
            "identity-exists",
            f"an identity already lives in {home.identity_dir}; "
            "pass --force to replace it (export it first: `swarm identity export`)",
        )
    _write_secret(home.peer_key, identity.keypair.private_key.serialize())
    _write_secret(home.eth_key, ("0x" + identity.eth_secret().hex() + "\n").encode())


def load(home: Home) -> Identity:
    if not home.peer_key.exists() or not home.eth_key.exists():
        raise SwarmError("no-identity", f"no identity in {home.identity_dir}; run `swarm init` first")
    for path in (home.peer_key, home.eth_key):
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            raise SwarmError(
                "identity-permissions",
                f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}`",
            )
    try:
        private = deserialize_private_key(home.peer_key.read_bytes())
    except Exception as exc:  # noqa: BLE001 - protobuf raises several unrelated types
        raise SwarmError("identity-corrupt", f"{home.peer_key} is not a libp2p private key ({exc})") from exc
    if private.get_type() != KeyType.Ed25519:
        raise SwarmError("identity-corrupt", f"{home.peer_key} holds a {private.get_type().name} key, not Ed25519")
    text = home.eth_key.read_text().strip()
    try:
        account = Account.from_key(text)
    except (ValueError, TypeError) as exc:
        raise SwarmError("identity-corrupt", f"{home.eth_key} is not a hex account key ({exc})") from exc
    return Identity(KeyPair(private, private.get_public_key()), account)


def export_bundle(identity: Identity, passphrase: str | None) -> dict:
    bundle: dict = {"format": EXPORT_FORMAT, **identity.summary()}
    if passphrase:
        bundle["peer_keystore"] = Account.encrypt(identity.peer_seed(), passphrase)
        bundle["eth_keystore"] = Account.encrypt(identity.eth_secret(), passphrase)
    else:
        bundle["peer_seed"] = identity.peer_seed().hex()
        bundle["eth_key"] = identity.eth_secret().hex()
    return bundle


def import_bundle(bundle: object, passphrase: str | None) -> Identity:
    if not isinstance(bundle, dict) or bundle.get("format") != EXPORT_FORMAT:
        raise SwarmError("bad-export", f"not a {EXPORT_FORMAT} identity export")
    try:
        if "peer_keystore" in bundle:
            if not passphrase:
                raise SwarmError("passphrase-needed", "this export is encrypted; give --passphrase-file")
            seed = bytes(Account.decrypt(bundle["peer_keystore"], passphrase))
            eth = bytes(Account.decrypt(bundle["eth_keystore"], passphrase))
        else:
            seed = bytes.fromhex(bundle["peer_seed"])
            eth = bytes.fromhex(bundle["eth_key"])
    except SwarmError:
        raise
    except ValueError as exc:  # eth-account raises ValueError("MAC mismatch") on a wrong passphrase
        raise SwarmError("bad-export", f"cannot decrypt or parse the export ({exc})") from exc
    except (KeyError, TypeError) as exc:
        raise SwarmError("bad-export", f"export is missing or mangles a field ({exc})") from exc
    identity = Identity.from_secrets(seed, eth)
    expected = bundle.get("peer_id"), bundle.get("address")
    if expected != (identity.peer_id.to_base58(), identity.address):
        raise SwarmError("bad-export", "the keys in the export do not match its peer_id/address")
    return identity


def write_export(path: Path, bundle: dict) -> None:
    _write_secret(path, (json.dumps(bundle, indent=2) + "\n").encode())
