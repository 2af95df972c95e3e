"""The cipher of secret settings and its keys: FLX_SECRET_KEY or the generated key file."""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path

import pytest

from flx_core.config import SettingsError, load_settings
from flx_core.domain import SecretUnreadable, ValidationFailed
from flx_core.infrastructure.secret_cipher import (
    CLEAR,
    KEYS_FILE,
    EnvironmentKeys,
    FileKeys,
    SecretCipher,
    inventory,
    key_id,
    new_key,
    secret_cipher,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    "value", ["hunter2", "", 42, 3.5, True, {"private_key": "k", "n": [1, 2]}, ["a", "b"]]
)
def test_round_trip_keeps_the_value_and_its_type(value: object) -> None:
    key = new_key()
    cipher = SecretCipher(EnvironmentKeys(key.decode()))
    stored = cipher.encrypt(value)
    assert re.fullmatch(rf"flx:fernet:{key_id(key)}:gAAAAA[\w=-]+", stored)
    assert cipher.decrypt(stored, plugin="tap-x", setting="s") == value


def test_seal_and_unseal_one_plugins_settings() -> None:
    cipher = SecretCipher(EnvironmentKeys(new_key().decode()))
    plain = {
        "host": "db",
        "port": 5432,
        "password": "pw",
        "declared": "d",
        "dsn": "host=db password=pw2",
        "nested": {"api_key": "k", "region": "eu"},
        "hosts": ["u:pw3@a", "b"],
        "literal": "flx:fernet:00000000:looks-encrypted-but-is-not",
        "empty_password": "",
        "no_token": None,
    }
    stored = cipher.seal(plain, frozenset({"declared"}))
    assert stored["host"] == "db" and stored["port"] == 5432
    assert stored["empty_password"] == "" and stored["no_token"] is None
    assert stored["nested"]["region"] == "eu" and stored["hosts"][1] == "b"
    for value in (
        stored["password"],
        stored["declared"],
        stored["dsn"],
        stored["nested"]["api_key"],
        stored["hosts"][0],
        stored["literal"],
    ):
        assert value.startswith("flx:fernet:") and "!" not in value
    assert cipher.unseal(stored, plugin="tap-x") == plain
    assert inventory(stored, frozenset({"declared"})) == {cipher.primary_id(): 6}
    assert inventory(plain, frozenset({"declared"}))[CLEAR] == 5


def test_wrong_and_missing_keys_name_the_setting(tmp_path: Path) -> None:
    key = new_key()
    stored = SecretCipher(EnvironmentKeys(key.decode())).encrypt("pw")
    other = SecretCipher(EnvironmentKeys(new_key().decode()))
    with pytest.raises(SecretUnreadable) as info:
        other.unseal({"auth": {"password": stored}}, plugin="tap-x", pipeline="p1")
    assert str(info.value).startswith(
        "cannot decrypt setting 'auth.password' of plugin 'tap-x' in pipeline 'p1': "
        f"FLX_SECRET_KEY does not match the key it was encrypted with (key id {key_id(key)};"
    )
    assert info.value.code == "secret_unreadable"
    files = SecretCipher(FileKeys(tmp_path / "keys"))
    with pytest.raises(SecretUnreadable, match="no key to decrypt it"):
        files.decrypt(stored, plugin="tap-x", setting="password")
    files.primary_id()
    with pytest.raises(SecretUnreadable, match="does not hold the key it was encrypted with"):
        files.decrypt(stored, plugin="tap-x", setting="password")
    damaged = stored[:-8] + "AAAAAAA="
    with pytest.raises(SecretUnreadable, match="the stored value is damaged"):
        SecretCipher(EnvironmentKeys(key.decode())).decrypt(damaged, plugin="t", setting="s")


def test_the_key_file_is_made_once_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cipher = SecretCipher(FileKeys(home / "keys"))
    assert cipher.seal({"host": "db"}) == {"host": "db"}
    assert not (home / "keys").exists(), "no secret, no key"
    cipher.seal({"password": "pw"})
    path = home / "keys" / KEYS_FILE
    assert mode(home) == 0o700 and mode(home / "keys") == 0o700 and mode(path) == 0o600
    assert cipher.key_ids() == [key_id(path.read_text().split()[-1].encode())]


def test_concurrent_first_uses_agree_on_one_key(tmp_path: Path) -> None:
    ids: list[str] = []
    start = threading.Barrier(8)

    def first_use() -> None:
        start.wait()
        ids.append(SecretCipher(FileKeys(tmp_path / "keys")).primary_id())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1


def test_rotation_in_one_process_is_seen_by_another(tmp_path: Path) -> None:
    here, there = FileKeys(tmp_path / "keys"), FileKeys(tmp_path / "keys")
    cipher_here, cipher_there = SecretCipher(here), SecretCipher(there)
    old_value = cipher_there.encrypt("pw")
    old = cipher_there.primary_id()
    new = key_id(here.add())
    assert cipher_there.key_ids() == [new, old]
    assert cipher_there.encrypt("x").startswith(f"flx:fernet:{new}:")
    rotated = cipher_here.reseal({"password": old_value}, plugin="tap-x")
    assert rotated["password"].startswith(f"flx:fernet:{new}:")
    assert cipher_there.unseal(rotated, plugin="tap-x") == {"password": "pw"}
    assert [key_id(k) for k in here.keep_first()] == [old]
    assert cipher_there.key_ids() == [new]
    assert mode(tmp_path / "keys" / KEYS_FILE) == 0o600
    with pytest.raises(SecretUnreadable):
        cipher_there.decrypt(old_value, plugin="tap-x", setting="password")


def test_a_bad_key_file_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / KEYS_FILE).write_text("not-a-key\n")
    with pytest.raises(ValidationFailed, match="holds a key that is not a Fernet key"):
        SecretCipher(FileKeys(tmp_path / "keys")).encrypt("x")


def test_the_settings_choose_the_keys(flx_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(secret_cipher(load_settings()).source, FileKeys)
    first, second = new_key().decode(), new_key().decode()
    monkeypatch.setenv("FLX_SECRET_KEY", f" {first} , {second} ")
    cipher = secret_cipher(load_settings())
    assert isinstance(cipher.source, EnvironmentKeys)
    assert cipher.key_ids() == [key_id(first.encode()), key_id(second.encode())]
    assert secret_cipher(load_settings()) is cipher, "one cipher per key and home"
    assert load_settings().masked()["secret_key"] == "********"


@pytest.mark.parametrize("value", ["short", "hunter2,hunter3", f"{'A' * 43}="])
def test_a_bad_secret_key_names_the_variable_not_the_value(
    flx_home: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    if value.endswith("="):
        value = new_key().decode() + "," + value[:-2] + "!="
    monkeypatch.setenv("FLX_SECRET_KEY", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith("invalid setting FLX_SECRET_KEY: each comma-separated key")
    assert "hunter" not in message and "short" not in message
