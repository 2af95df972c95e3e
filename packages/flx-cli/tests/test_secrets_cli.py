"""Secret settings at rest through `flx`: encrypted in the database, owner-only files, keys
rotated and dropped with `flx secrets`, one line for a wrong key."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

SECRET = "hunter2-secret"


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))[2:]


def stored_bytes(home: Path) -> bytes:
    """The database as it lies on disk, with its write-ahead log."""
    return b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("flx.db"))


def add_tap(flx: Any, **env: str) -> None:
    flx(
        "plugin",
        "add",
        "extractor",
        "tap-x",
        "--executable",
        "/bin/true",
        "--config",
        f"password={SECRET}",
        env={**flx.env, **env} if env else None,
    )


def test_a_secret_setting_is_encrypted_and_the_home_owner_only(cli) -> None:
    home = cli.work / "home"
    add_tap(cli)
    assert SECRET.encode() not in stored_bytes(home)
    assert b"flx:fernet:" in stored_bytes(home)
    assert (mode(home), mode(home / "flx.db")) == ("700", "600")
    assert (mode(home / "keys"), mode(home / "keys" / "secrets.keys")) == ("700", "600")
    shown = cli("plugin", "show", "tap-x").stdout
    assert "********" in shown and SECRET not in shown
    as_json = json.loads(cli("--json", "plugin", "show", "tap-x").stdout)
    assert as_json["config"] == {"password": "********"}


def test_rotate_then_drop_the_old_key(cli) -> None:
    add_tap(cli)
    keys_file = cli.work / "home" / "keys" / "secrets.keys"
    before = json.loads(cli("--json", "secrets", "status").stdout)
    assert [k["secrets"] for k in before["keys"]] == [1] and before["clear"] == 0
    old = before["keys"][0]["id"]

    rotated = json.loads(cli("secrets", "rotate-key", "--json").stdout)
    assert rotated["previous"] == [old]
    assert rotated["reencrypted"] == {"plugins": 1, "pipelines": 0}
    status = json.loads(cli("--json", "secrets", "status").stdout)
    assert [(k["id"], k["encrypts"], k["secrets"]) for k in status["keys"]] == [
        (rotated["key_id"], True, 1),
        (old, False, 0),
    ]
    assert mode(keys_file) == "600"

    dropped = json.loads(cli("--json", "secrets", "drop-old-keys").stdout)
    assert dropped["dropped"] == [old]
    status = json.loads(cli("--json", "secrets", "status").stdout)
    assert [k["id"] for k in status["keys"]] == [rotated["key_id"]]
    assert len([line for line in keys_file.read_text().splitlines() if line[:1] != "#"]) == 1
    assert json.loads(cli("--json", "plugin", "show", "tap-x").stdout)["config"] == {
        "password": "********"
    }
    assert SECRET.encode() not in stored_bytes(cli.work / "home")


def test_with_flx_secret_key_a_wrong_key_is_one_line_and_rotation_prints_the_key(cli) -> None:
    first = Fernet.generate_key().decode()
    add_tap(cli, FLX_SECRET_KEY=first)
    assert not (cli.work / "home" / "keys" / "secrets.keys").exists()

    wrong = {**cli.env, "FLX_SECRET_KEY": Fernet.generate_key().decode()}
    failed = cli("plugin", "show", "tap-x", env=wrong, check=False)
    assert failed.returncode == 1
    assert failed.stderr.startswith(
        "error: cannot decrypt setting 'password' of plugin 'tap-x': "
        "FLX_SECRET_KEY does not match the key it was encrypted with"
    )
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr

    with_first = {**cli.env, "FLX_SECRET_KEY": first}
    rotation = cli("secrets", "rotate-key", env=with_first).stdout
    new = next(w for w in rotation.split() if len(w) == 44 and w.endswith("="))
    assert f"FLX_SECRET_KEY={new},$FLX_SECRET_KEY" in rotation
    both = {**cli.env, "FLX_SECRET_KEY": f"{new},{first}"}
    dropped = json.loads(cli("--json", "secrets", "drop-old-keys", env=both).stdout)
    assert dropped["reencrypted"] == {"plugins": 1, "pipelines": 0}
    assert len(dropped["dropped"]) == 1
    only_new = {**cli.env, "FLX_SECRET_KEY": new}
    assert "********" in cli("plugin", "show", "tap-x", env=only_new).stdout
    stale = cli("plugin", "show", "tap-x", env=with_first, check=False)
    assert stale.returncode == 1 and "cannot decrypt setting 'password'" in stale.stderr


def test_a_runs_log_is_owner_only(cli) -> None:
    cli.add_fixture_pipeline("quick", rows=3, sleep=0, state_every=1)
    cli("run", "quick")
    listed = json.loads(cli("--json", "execution", "list").stdout)["items"]
    log = Path(str(cli.show(listed[0]["id"])["log_path"]))
    assert log.is_file() and log.is_relative_to(cli.work / "home")
    assert mode(log) == "600"
    assert mode(log.parent) == "700" and mode(log.parent.parent) == "700"
