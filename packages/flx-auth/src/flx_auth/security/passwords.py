"""Password hashing with bcrypt, and the password policy.

bcrypt is slow on purpose; the work runs in a thread so a server keeps serving. A login for
an unknown email checks the password against a dummy hash of the same cost, so it takes as
long as a wrong password and does not reveal which emails exist.
"""

from __future__ import annotations

import asyncio

import bcrypt

from flx_core.domain import ValidationFailed

#: bcrypt reads at most 72 bytes; longer passwords are refused rather than truncated.
MAX_PASSWORD_BYTES = 72


class PasswordHasher:
    def __init__(self, rounds: int = 12, min_length: int = 12) -> None:
        self.rounds = rounds
        self.min_length = min_length
        # Any well-formed hash of the same cost makes checkpw do the full work; building it
        # from a fresh salt costs nothing, unlike hashing a dummy password.
        self._dummy = bcrypt.gensalt(rounds) + b"." * 31

    def check_policy(self, password: str) -> None:
        """Refuse a password that is too short or too long (the message never shows it)."""
        if len(password) < self.min_length:
            raise ValidationFailed(f"password too short: use at least {self.min_length} characters")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise ValidationFailed(f"password too long: at most {MAX_PASSWORD_BYTES} bytes")

    def _hash(self, password: str) -> str:
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(self.rounds)).decode()

    async def hash(self, password: str) -> str:
        self.check_policy(password)
        return await asyncio.to_thread(self._hash, password)

    def _verify(self, password: str, hashed: str | None) -> bool:
        raw = password.encode()
        if hashed is None:
            bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], self._dummy)
            return False
        if len(raw) > MAX_PASSWORD_BYTES:
            # Spend the same time as a real check, then refuse: no such password can exist.
            bcrypt.checkpw(raw[:MAX_PASSWORD_BYTES], hashed.encode())
            return False
        return bcrypt.checkpw(raw, hashed.encode())

    async def verify(self, password: str, hashed: str | None) -> bool:
        """True when ``password`` matches ``hashed``; with ``hashed=None`` (no such user) it
        spends the time of a real check and returns False."""
        return await asyncio.to_thread(self._verify, password, hashed)
