"""RSA signing keys: from the settings, or generated once into ``$FLX_HOME/keys``.

The key directory holds ``current.pem`` (signs new tokens) and ``previous.pem`` (still
accepted for verification after a rotation). Files are created with mode 0600 in a 0700
directory, and re-read when another process rotates them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flx_core.domain import ValidationFailed

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

KEY_BITS = 2048
CURRENT = "current.pem"
PREVIOUS = "previous.pem"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """The RFC 7638 thumbprint of the key (base64url SHA-256 of its canonical JWK)."""
    numbers = public_key.public_numbers()
    jwk = json.dumps(
        {"e": _b64(numbers.e), "kty": "RSA", "n": _b64(numbers.n)},
        separators=(",", ":"),
        sort_keys=True,
    )
    digest = hashlib.sha256(jwk.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: rsa.RSAPrivateKey

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()

    def __repr__(self) -> str:
        return f"SigningKey(kid={self.kid!r})"

    @classmethod
    def generate(cls) -> SigningKey:
        # cryptography is imported where keys are made or read: most processes never do.
        from cryptography.hazmat.primitives.asymmetric import rsa

        private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        return cls(key_id(private.public_key()), private)

    @classmethod
    def from_pem(cls, pem: bytes, source: str) -> SigningKey:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        try:
            private = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError):
            raise ValidationFailed(f"{source}: not an unencrypted PEM private key") from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise ValidationFailed(f"{source}: RS256 needs an RSA private key")
        if private.key_size < KEY_BITS:
            raise ValidationFailed(f"{source}: the RSA key must have at least {KEY_BITS} bits")
        return cls(key_id(private.public_key()), private)

    def pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class KeyStore(ABC):
    @abstractmethod
    def signing_key(self) -> SigningKey:
        """The key that signs new tokens."""

    @abstractmethod
    def verification_keys(self) -> dict[str, rsa.RSAPublicKey]:
        """Public keys accepted when verifying, by ``kid``: the current and the previous."""

    @abstractmethod
    def rotate(self) -> tuple[SigningKey, SigningKey | None]:
        """Make a new current key; returns it and the one it replaced."""


class StaticKeyStore(KeyStore):
    """One key given by the settings (PEM text or a path); it cannot be rotated here."""

    def __init__(self, pem: bytes, source: str) -> None:
        self._pem, self._source = pem, source
        self._key: SigningKey | None = None

    def signing_key(self) -> SigningKey:
        if self._key is None:
            self._key = SigningKey.from_pem(self._pem, self._source)
        return self._key

    def verification_keys(self) -> dict[str, rsa.RSAPublicKey]:
        key = self.signing_key()
        return {key.kid: key.public_key}

    def rotate(self) -> tuple[SigningKey, SigningKey | None]:
        raise ValidationFailed(
            f"the signing key comes from {self._source}; to rotate it, set a new key there"
        )


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class FileKeyStore(KeyStore):
    """Keys in a directory, generated on first use; safe against a concurrent first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[int, int] | None, ...] = ()
        self._current: SigningKey | None = None
        self._previous: SigningKey | None = None

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _ensure_directory(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)

    def _tmp(self) -> Path:
        return self._path(f".{os.getpid()}-{threading.get_ident()}-{os.urandom(4).hex()}.tmp")

    def _stat(self) -> tuple[tuple[int, int] | None, ...]:
        out: list[tuple[int, int] | None] = []
        for name in (CURRENT, PREVIOUS):
            try:
                st = self._path(name).stat()
            except FileNotFoundError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_mtime_ns))
        return tuple(out)

    def _generate_current(self) -> None:
        """Create current.pem unless another process won the race (link fails if it exists)."""
        self._ensure_directory()
        tmp = self._tmp()
        _write_private(tmp, SigningKey.generate().pem())
        try:
            os.link(tmp, self._path(CURRENT))
        except FileExistsError:
            pass
        finally:
            tmp.unlink()

    def _load(self) -> None:
        stamp = self._stat()
        if stamp[0] is None:
            self._generate_current()
            stamp = self._stat()
        if stamp == self._stamp and self._current is not None:
            return
        self._current = SigningKey.from_pem(
            self._path(CURRENT).read_bytes(), str(self._path(CURRENT))
        )
        self._previous = (
            SigningKey.from_pem(self._path(PREVIOUS).read_bytes(), str(self._path(PREVIOUS)))
            if stamp[1] is not None
            else None
        )
        self._stamp = stamp

    def signing_key(self) -> SigningKey:
        with self._lock:
            self._load()
            assert self._current is not None
            return self._current

    def verification_keys(self) -> dict[str, rsa.RSAPublicKey]:
        with self._lock:
            self._load()
            keys = [k for k in (self._current, self._previous) if k is not None]
        return {k.kid: k.public_key for k in keys}

    def rotate(self) -> tuple[SigningKey, SigningKey | None]:
        with self._lock:
            self._load()
            old = self._current
            new = SigningKey.generate()
            fresh, keep = self._tmp(), self._tmp()
            _write_private(fresh, new.pem())
            # current.pem always exists: the old key is linked to previous.pem first.
            os.link(self._path(CURRENT), keep)
            os.replace(keep, self._path(PREVIOUS))
            os.replace(fresh, self._path(CURRENT))
            self._stamp = ()
            self._load()
            return new, old


def key_store_for(private_key: str | None, home: Path) -> KeyStore:
    """The key of the settings (PEM text or a path to a PEM file), else ``home/keys``."""
    if not private_key:
        return FileKeyStore(home / "keys")
    if "-----BEGIN" in private_key:
        return StaticKeyStore(private_key.encode(), "FLX_JWT_PRIVATE_KEY")
    path = Path(private_key).expanduser()
    if not path.is_file():
        raise ValidationFailed("FLX_JWT_PRIVATE_KEY: neither PEM text nor the path of a file")
    return StaticKeyStore(path.read_bytes(), f"FLX_JWT_PRIVATE_KEY file {path}")
