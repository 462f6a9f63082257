import json
import os
import stat
import subprocess
import sys

import pytest

from swarmclient import config as config_mod
from swarmclient import identity as identity_mod
from swarmclient.cli.main import main
from swarmclient.errors import SwarmError
from swarmclient.home import Home


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_init_creates_identity_with_private_modes(swarm_home, capsys):
    assert main(["init", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    home = Home.resolve(swarm_home)
    assert mode(home.peer_key) == 0o600
    assert mode(home.eth_key) == 0o600
    assert mode(home.identity_dir) == 0o700
    ident = identity_mod.load(home)
    assert out["peer_id"] == ident.peer_id.to_base58()
    assert out["peer_id"].startswith("12D3KooW")  # Ed25519 identity multihash
    assert out["address"] == ident.address
    assert config_mod.load(home.config) == config_mod.Config()


def test_init_refuses_to_overwrite(swarm_home, capsys):
    assert main(["init"]) == 0
    before = Home.resolve(swarm_home).peer_key.read_bytes()
    assert main(["init"]) == 2
    assert "already has an identity" in capsys.readouterr().err
    assert Home.resolve(swarm_home).peer_key.read_bytes() == before
    assert main(["init", "--force"]) == 0
    assert Home.resolve(swarm_home).peer_key.read_bytes() != before


@pytest.mark.parametrize("passphrase", [None, "correct horse"])
def test_export_import_roundtrip(swarm_home, tmp_path, passphrase, monkeypatch):
    assert main(["init"]) == 0
    original = identity_mod.load(Home.resolve(swarm_home))
    export = tmp_path / "id.json"
    args = ["identity", "export", str(export)]
    if passphrase:
        (tmp_path / "pass").write_text(passphrase + "\n")
        args += ["--passphrase-file", str(tmp_path / "pass")]
    assert main(args) == 0
    assert mode(export) == 0o600
    text = export.read_text()
    assert (original.peer_seed().hex() in text) == (passphrase is None)

    other = tmp_path / "other-home"
    monkeypatch.setenv("SWARM_HOME", str(other))
    imp = ["identity", "import", str(export)]
    if passphrase:
        imp += ["--passphrase-file", str(tmp_path / "pass")]
    assert main(imp) == 0
    restored = identity_mod.load(Home.resolve(other))
    assert restored.summary() == original.summary()


def test_import_with_wrong_passphrase_is_a_clear_error(swarm_home, tmp_path):
    ident = identity_mod.Identity.generate()
    bundle = identity_mod.export_bundle(ident, "right")
    with pytest.raises(SwarmError) as err:
        identity_mod.import_bundle(bundle, "wrong")
    assert err.value.reason == "bad-export"


def test_import_rejects_mismatched_bundle():
    a, b = identity_mod.Identity.generate(), identity_mod.Identity.generate()
    bundle = identity_mod.export_bundle(a, None)
    bundle["peer_id"] = b.summary()["peer_id"]
    with pytest.raises(SwarmError, match="do not match"):
        identity_mod.import_bundle(bundle, None)


def test_load_refuses_world_readable_key(swarm_home):
    home = Home.resolve(swarm_home)
    identity_mod.save(identity_mod.Identity.generate(), home)
    os.chmod(home.eth_key, 0o644)
    with pytest.raises(SwarmError) as err:
        identity_mod.load(home)
    assert err.value.reason == "identity-permissions"


def test_corrupt_key_file_is_reported(swarm_home):
    home = Home.resolve(swarm_home)
    identity_mod.save(identity_mod.Identity.generate(), home)
    home.peer_key.write_bytes(b"\x00garbage")
    with pytest.raises(SwarmError) as err:
        identity_mod.load(home)
    assert err.value.reason == "identity-corrupt"


def test_config_rejects_unknown_keys_and_types():
    with pytest.raises(SwarmError, match="unknown key 'network.lisen'"):
        config_mod.parse('[network]\nlisen = ["/ip4/0.0.0.0/tcp/1"]\n')
    with pytest.raises(SwarmError, match="network.mdns should be bool"):
        config_mod.parse("[network]\nmdns = 1\n")
    with pytest.raises(SwarmError, match="choose one of"):
        config_mod.parse('[chain]\nbackend = "ganache"\n')
    with pytest.raises(SwarmError, match="bad-config"):
        config_mod.parse("swarm_id = ")


def test_rendered_template_parses_back():
    cfg = config_mod.Config(
        swarm_id="lab",
        network=config_mod.NetworkConfig(bootstrap=["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWx"]),
    )
    assert config_mod.parse(config_mod.render(cfg)) == cfg


def test_cli_errors_are_one_line(swarm_home):
    proc = subprocess.run(
        [sys.executable, "-m", "swarmclient.cli.main", "identity", "show"],
        capture_output=True, text=True, env={**os.environ, "SWARM_HOME": str(swarm_home)},
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "run `swarm init` first" in proc.stderr
