"""What earlier imports of a project created, kept in the audit trail.

An apply that changes something records ``MeltanoProjectImported`` on the project (keyed by
meltano.yml's ``project_id``, else by its path): the plugins and pipelines it created and
updated. The plan of a later import reads them back, and lists what they created that the
project no longer has and FLX still holds as left in FLX: an import never deletes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from flx_core.domain.pydantic_base import DomainAggregateRoot, DomainEvent

#: Why a plugin or pipeline an earlier import created is listed.
LEFT_REASON = "removed from the project, left in FLX"


class MeltanoProjectImported(DomainEvent):
    """An import of a Meltano project changed FLX (``aggregate_id``: the project's key)."""

    project: str
    environment: str | None = None
    created_plugins: list[str] = Field(default_factory=list)
    created_pipelines: list[str] = Field(default_factory=list)
    updated_plugins: list[str] = Field(default_factory=list)
    updated_pipelines: list[str] = Field(default_factory=list)


class ImportedProject(DomainAggregateRoot):
    """A Meltano project as its imports see it: only its events are kept."""

    id: str

    def imported(
        self, path: str, environment: str | None, done: Mapping[tuple[str, str], list[str]]
    ) -> None:
        """Record an apply; ``done`` maps (kind, action) to names."""
        self.record(
            MeltanoProjectImported(
                aggregate_id=self.id,
                project=path,
                environment=environment,
                created_plugins=done.get(("plugin", "create"), []),
                created_pipelines=done.get(("pipeline", "create"), []),
                updated_plugins=done.get(("plugin", "update"), []),
                updated_pipelines=done.get(("pipeline", "update"), []),
            )
        )


def project_key(path: str, project_id: str | None) -> str:
    """The aggregate id of a project's imports (at most 64 characters)."""
    if project_id and len(project_id) <= 48:
        return f"meltano-project:{project_id}"
    digest = hashlib.sha256((project_id or path).encode()).hexdigest()[:40]
    return f"meltano-project:{digest}"


def created_before(payloads: Iterable[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Kind (``plugin``, ``pipeline``) -> the names the recorded imports created."""
    out: dict[str, set[str]] = {"plugin": set(), "pipeline": set()}
    for payload in payloads:
        out["plugin"].update(payload.get("created_plugins") or [])
        out["pipeline"].update(payload.get("created_pipelines") or [])
    return out
