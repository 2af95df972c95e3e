"""Encryption of secret settings at rest (Fernet), and the keys it uses.

A stored secret reads ``flx:fernet:<key id>:<Fernet token>``: the token encrypts the JSON of
the value (numbers and objects come back as they were); the key id, 8 hex digits of the
key's SHA-256, names the key the value needs, so a rotation finds what is left under an old
key and a wrong key gives an error that says which key is missing.

Keys, newest first (the first encrypts, every one decrypts):

- ``FLX_SECRET_KEY``: Fernet keys, comma-separated. FLX never writes them anywhere;
- else ``$FLX_HOME/keys/secrets.keys``: one key a line, generated on the first encryption
  (mode 0600 in a 0700 directory) and re-read when another process rotates it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from flx_core.domain.errors import SecretUnreadable, ValidationFailed
from flx_core.domain.secrets import has_inline_secret, looks_secret
from flx_core.infrastructure.private_files import ensure_private_dir, write_private

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

    from flx_core.config import FlxSettings

PREFIX = "flx:fernet:"
VARIABLE = "FLX_SECRET_KEY"
KEYS_FILE = "secrets.keys"
HEADER = (
    b"# FLX secret keys (Fernet), newest first: the first encrypts, all decrypt.\n"
    b"# Keep a copy: without them the secret settings stored by FLX cannot be read.\n"
)


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def new_key() -> bytes:
    # cryptography is imported where a secret is really encrypted or decrypted.
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def is_encrypted(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def stored_key_id(value: str) -> str:
    """The id of the key an encrypted value needs ('' if the value is damaged)."""
    kid, sep, _ = value[len(PREFIX) :].partition(":")
    return kid if sep else ""


def is_secret_setting(name: str, value: Any, secret_names: frozenset[str]) -> bool:
    """Whether a setting's value is stored encrypted: a declared or secret-looking name,
    or a string carrying a password (a connection string)."""
    if value is None or value == "":
        return False
    if name in secret_names or looks_secret(name):
        return True
    return isinstance(value, str) and (has_inline_secret(value) or is_encrypted(value))


# -- keys -------------------------------------------------------------------------------
class SecretKeys(ABC):
    """Where the keys come from."""

    @abstractmethod
    def existing(self) -> list[bytes]:
        """The keys, newest first (none before the first one is made)."""

    @abstractmethod
    def current(self) -> list[bytes]:
        """The keys, newest first, making the first one if there is none."""

    @abstractmethod
    def describe(self) -> str:
        """Where the keys are, for messages."""


class EnvironmentKeys(SecretKeys):
    """The keys of ``FLX_SECRET_KEY`` (validated by the settings)."""

    def __init__(self, value: str) -> None:
        self._keys = [k.strip().encode() for k in value.split(",") if k.strip()]

    def existing(self) -> list[bytes]:
        return list(self._keys)

    def current(self) -> list[bytes]:
        return list(self._keys)

    def describe(self) -> str:
        return VARIABLE


class FileKeys(SecretKeys):
    """Keys in ``directory/secrets.keys``; concurrent first uses make one key."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / KEYS_FILE
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: list[bytes] = []

    def describe(self) -> str:
        return f"the key file {self.path}"

    def _read(self) -> list[bytes]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._stamp, self._keys = None, []
            return []
        stamp = (st.st_ino, st.st_mtime_ns)
        if stamp != self._stamp:
            lines = [line.strip() for line in self.path.read_bytes().splitlines()]
            keys = [line for line in lines if line and not line.startswith(b"#")]
            self._stamp, self._keys = stamp, keys
        return list(self._keys)

    def _tmp(self) -> Path:
        tag = f"{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}"
        return self.directory / f".{KEYS_FILE}.{tag}.tmp"

    def _write(self, keys: list[bytes], *, replace: bool) -> None:
        ensure_private_dir(self.directory)
        tmp = self._tmp()
        write_private(tmp, HEADER + b"".join(k + b"\n" for k in keys))
        try:
            if replace:
                os.replace(tmp, self.path)
            else:
                # link fails if the file exists: another process made the first key.
                with contextlib.suppress(FileExistsError):
                    os.link(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Serialise the rewrites of the key file between processes and threads."""
        ensure_private_dir(self.directory)
        fd = os.open(self.directory / f".{KEYS_FILE}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            with self._lock:
                fcntl.flock(fd, fcntl.LOCK_EX)
                yield
        finally:
            os.close(fd)

    def existing(self) -> list[bytes]:
        with self._lock:
            return self._read()

    def current(self) -> list[bytes]:
        with self._lock:
            keys = self._read()
            if not keys:
                self._write([new_key()], replace=False)
                keys = self._read()
            return keys

    def add(self) -> bytes:
        """A new key, first in the file; the older ones stay to decrypt."""
        with self._exclusive():
            key = new_key()
            self._write([key, *self._read()], replace=True)
            self._read()
            return key

    def keep_first(self) -> list[bytes]:
        """Drop every key but the first; returns the dropped ones."""
        with self._exclusive():
            keys = self._read()
            if len(keys) > 1:
                self._write(keys[:1], replace=True)
                self._read()
            return keys[1:]


# -- the cipher -------------------------------------------------------------------------
class _Ring:
    """One snapshot of the keys (a rotation by another process cannot split an operation)."""

    def __init__(self, keys: list[bytes]) -> None:
        from cryptography.fernet import Fernet

        self.keys = keys
        self.fernets: dict[str, Fernet] = {key_id(k): Fernet(k) for k in keys}
        self.primary = key_id(keys[0]) if keys else ""


class SecretCipher:
    """Encrypts and decrypts secret settings; the repositories call it on every row."""

    def __init__(self, keys: SecretKeys) -> None:
        self.source = keys
        self._ring_cache: _Ring | None = None

    def _ring(self, keys: list[bytes]) -> _Ring:
        ring = self._ring_cache
        if ring is None or ring.keys != keys:
            try:
                ring = self._ring_cache = _Ring(keys)
            except ValueError:
                raise ValidationFailed(
                    f"{self.source.describe()} holds a key that is not a Fernet key"
                ) from None
        return ring

    def key_ids(self) -> list[str]:
        """Ids of the keys there are, newest first."""
        return [key_id(k) for k in self.source.existing()]

    def primary_id(self) -> str:
        """Id of the key that encrypts (made now if there is none yet)."""
        return key_id(self.source.current()[0])

    def _current_ring(self) -> Callable[[], _Ring]:
        """The ring of the current keys, taken on first need: the key file is made, and
        cryptography imported, only when there is a secret to encrypt."""
        box: list[_Ring] = []

        def get() -> _Ring:
            if not box:
                box.append(self._ring(self.source.current()))
            return box[0]

        return get

    # values
    def encrypt(self, value: Any, ring: _Ring | None = None) -> str:
        ring = ring or self._ring(self.source.current())
        token = ring.fernets[ring.primary].encrypt(orjson.dumps(value))
        return f"{PREFIX}{ring.primary}:{token.decode()}"

    def decrypt(
        self, stored: str, *, plugin: str, setting: str, pipeline: str | None = None
    ) -> Any:
        from cryptography.fernet import InvalidToken

        kid = stored_key_id(stored)
        ring = self._ring(self.source.existing())
        fernet = ring.fernets.get(kid)
        if fernet is None:
            reason = self._missing(kid, ring) if kid else "the stored value is damaged"
            raise self._unreadable(reason, plugin, setting, pipeline, kid)
        token = stored[len(PREFIX) + len(kid) + 1 :].encode()
        try:
            return orjson.loads(fernet.decrypt(token))
        except (InvalidToken, orjson.JSONDecodeError):
            reason = f"the stored value is damaged (it does not decrypt with key {kid})"
            raise self._unreadable(reason, plugin, setting, pipeline, kid) from None

    def _missing(self, kid: str, ring: _Ring) -> str:
        if isinstance(self.source, EnvironmentKeys):
            held = ", ".join(ring.fernets)
            return (
                f"{VARIABLE} does not match the key it was encrypted with (key id {kid}; "
                f"{VARIABLE} holds {held}): put that key in {VARIABLE}, after the newest"
            )
        if not ring.keys:
            return (
                f"no key to decrypt it ({VARIABLE} is unset and {self.source.describe()} "
                f"does not exist): set {VARIABLE} to the key it was encrypted with (key id {kid})"
            )
        return (
            f"{self.source.describe()} does not hold the key it was encrypted with "
            f"(key id {kid}): set {VARIABLE} to that key, or restore the key file"
        )

    @staticmethod
    def _unreadable(
        reason: str, plugin: str, setting: str, pipeline: str | None, kid: str
    ) -> SecretUnreadable:
        where = f" in pipeline {pipeline!r}" if pipeline else ""
        return SecretUnreadable(
            f"cannot decrypt setting {setting!r} of plugin {plugin!r}{where}: {reason}",
            plugin=plugin,
            setting=setting,
            pipeline=pipeline,
            key_id=kid,
        )

    # the settings of one plugin: {setting: value}, objects and lists walked into
    def seal(
        self, values: Mapping[str, Any], secret_names: frozenset[str] = frozenset()
    ) -> dict[str, Any]:
        """``values`` as stored: secrets encrypted under the newest key."""
        ring = self._current_ring()
        return {k: self._seal(v, k, secret_names, ring, k, None) for k, v in values.items()}

    def reseal(
        self,
        stored: Mapping[str, Any],
        secret_names: frozenset[str] = frozenset(),
        *,
        plugin: str,
        pipeline: str | None = None,
    ) -> dict[str, Any]:
        """Stored values with every secret under the newest key: values under older keys
        re-encrypted (MultiFernet.rotate), secrets stored in clear encrypted."""
        ring = self._current_ring()
        where = (plugin, pipeline)
        return {k: self._seal(v, k, secret_names, ring, k, where) for k, v in stored.items()}

    def _seal(
        self,
        value: Any,
        name: str,
        names: frozenset[str],
        ring: Callable[[], _Ring],
        path: str,
        stored: tuple[str, str | None] | None,
    ) -> Any:
        if stored is not None and is_encrypted(value):
            return self._rotate(value, ring(), path, *stored)
        if is_secret_setting(name, value, names):
            return self.encrypt(value, ring())
        if isinstance(value, dict):
            return {
                k: self._seal(v, k, names, ring, f"{path}.{k}", stored) for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self._seal(v, "", names, ring, f"{path}[{i}]", stored) for i, v in enumerate(value)
            ]
        return value

    def _rotate(
        self, stored: str, ring: _Ring, setting: str, plugin: str, pipeline: str | None
    ) -> str:
        from cryptography.fernet import InvalidToken, MultiFernet

        kid = stored_key_id(stored)
        if kid == ring.primary:
            return stored
        if kid not in ring.fernets:
            self.decrypt(stored, plugin=plugin, setting=setting, pipeline=pipeline)
        multi = MultiFernet([ring.fernets[key_id(k)] for k in ring.keys])
        try:
            token = multi.rotate(stored[len(PREFIX) + len(kid) + 1 :].encode())
        except InvalidToken:
            reason = f"the stored value is damaged (it does not decrypt with key {kid})"
            raise self._unreadable(reason, plugin, setting, pipeline, kid) from None
        return f"{PREFIX}{ring.primary}:{token.decode()}"

    def unseal(
        self, stored: Mapping[str, Any], *, plugin: str, pipeline: str | None = None
    ) -> dict[str, Any]:
        """Stored values in clear (a wrong or missing key raises SecretUnreadable)."""
        if not _has_encrypted(stored):
            return dict(stored)
        return {k: self._unseal(v, k, plugin, pipeline) for k, v in stored.items()}

    def _unseal(self, value: Any, path: str, plugin: str, pipeline: str | None) -> Any:
        if is_encrypted(value):
            return self.decrypt(value, plugin=plugin, setting=path, pipeline=pipeline)
        if isinstance(value, dict):
            return {k: self._unseal(v, f"{path}.{k}", plugin, pipeline) for k, v in value.items()}
        if isinstance(value, list):
            return [self._unseal(v, f"{path}[{i}]", plugin, pipeline) for i, v in enumerate(value)]
        return value


def _has_encrypted(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith(PREFIX)
    if isinstance(value, Mapping):
        return any(_has_encrypted(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_encrypted(v) for v in value)
    return False


#: Inventory entries of secrets that no key id names.
CLEAR, DAMAGED = "clear", "damaged"


def inventory(
    stored: Mapping[str, Any], secret_names: frozenset[str] = frozenset()
) -> Counter[str]:
    """How many stored secrets each key id encrypts; ``clear`` counts those not encrypted."""
    found: Counter[str] = Counter()

    def walk(value: Any, name: str) -> None:
        if is_encrypted(value):
            found[stored_key_id(value) or DAMAGED] += 1
        elif is_secret_setting(name, value, secret_names):
            found[CLEAR] += 1
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, "")

    for k, v in stored.items():
        walk(v, k)
    return found


# -- the cipher of the settings ---------------------------------------------------------
_ciphers: dict[tuple[str | None, Path], SecretCipher] = {}
_ciphers_lock = threading.Lock()


def secret_cipher(settings: FlxSettings) -> SecretCipher:
    """The cipher of ``FLX_SECRET_KEY``, else of ``$FLX_HOME/keys``; one per process."""
    secret = settings.secret_key.get_secret_value() if settings.secret_key else None
    directory = settings.home_path / "keys"
    with _ciphers_lock:
        cipher = _ciphers.get((secret, directory))
        if cipher is None:
            keys = EnvironmentKeys(secret) if secret else FileKeys(directory)
            cipher = _ciphers[(secret, directory)] = SecretCipher(keys)
        return cipher
