"""Messages: commands (imperative), queries (nouns) and the permission each requires."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from flx_core.domain.security import Permission


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: What the caller's principal must hold for the bus to run the handler. ``None`` marks
    #: the few public messages (logging in), which anyone may send.
    permission: ClassVar[Permission | None]

    @classmethod
    def message_name(cls) -> str:
        return cls.__name__


class Command(Message):
    """Changes state. Exactly one handler."""


class Query(Message):
    """Reads state. Exactly one handler; runs without committing anything."""
