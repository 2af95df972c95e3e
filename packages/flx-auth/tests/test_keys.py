"""Signing keys: generated once into $FLX_HOME/keys (0600 in 0700), or given by the settings."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from flx_auth.security import FileKeyStore, SigningKey, StaticKeyStore, key_store_for
from flx_core.domain import ValidationFailed


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_is_generated_once_with_private_permissions(tmp_path: Path) -> None:
    directory = tmp_path / "home" / "keys"
    store = FileKeyStore(directory)
    assert not directory.exists(), "nothing is generated before a key is needed"
    key = store.signing_key()
    assert mode(directory) == 0o700
    assert mode(directory / "current.pem") == 0o600
    assert [p.name for p in directory.iterdir()] == ["current.pem"]
    again = FileKeyStore(directory).signing_key()
    assert again.kid == key.kid
    assert list(store.verification_keys()) == [key.kid]


def test_rotation_keeps_exactly_one_previous_key(tmp_path: Path) -> None:
    store = FileKeyStore(tmp_path / "keys")
    first = store.signing_key()
    second, replaced = store.rotate()
    assert replaced is not None and replaced.kid == first.kid
    assert set(store.verification_keys()) == {first.kid, second.kid}
    assert mode(tmp_path / "keys" / "previous.pem") == 0o600
    third, _ = store.rotate()
    assert set(store.verification_keys()) == {second.kid, third.kid}
    assert store.signing_key().kid == third.kid


def test_another_process_rotation_is_picked_up(tmp_path: Path) -> None:
    serving, cli = FileKeyStore(tmp_path / "keys"), FileKeyStore(tmp_path / "keys")
    before = serving.signing_key()
    new, _ = cli.rotate()
    assert serving.signing_key().kid == new.kid
    assert before.kid in serving.verification_keys()


def test_a_key_from_the_settings_as_pem_text_or_path(tmp_path: Path) -> None:
    key = SigningKey.generate()
    pem = key.pem().decode()
    assert key_store_for(pem, tmp_path).signing_key().kid == key.kid
    path = tmp_path / "jwt.pem"
    path.write_text(pem)
    assert key_store_for(str(path), tmp_path).signing_key().kid == key.kid
    assert isinstance(key_store_for(None, tmp_path), FileKeyStore)
    assert not (tmp_path / "keys").exists()


def test_bad_keys_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as not_a_file:
        key_store_for("an-hs256-shared-secret", tmp_path)
    assert "an-hs256-shared-secret" not in str(not_a_file.value)
    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValidationFailed, match="RS256 needs an RSA private key"):
        key_store_for(ec_pem, tmp_path).signing_key()
    with pytest.raises(ValidationFailed, match="to rotate it, set a new key there"):
        StaticKeyStore(ec_pem.encode(), "FLX_JWT_PRIVATE_KEY").rotate()


def test_a_signing_keys_repr_shows_only_its_id() -> None:
    key = SigningKey.generate()
    assert repr(key) == f"SigningKey(kid={key.kid!r})"
