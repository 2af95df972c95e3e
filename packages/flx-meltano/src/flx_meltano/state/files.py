"""The file-system state store: one JSON file per version under a directory per state id."""

from __future__ import annotations

import asyncio
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from flx_core.domain import NotFound, utc_now
from flx_core.domain.ports import StateStorePort, StateVersion

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


class FileStateStore(StateStorePort):
    """``<root>/<state id>/<version:08d>.json``; writes are atomic (temp file + rename)."""

    def __init__(self, root: Path, retention: int = 100) -> None:
        self.root = root
        self.retention = retention

    def _dir(self, state_id: str) -> Path:
        return self.root / _SAFE.sub("_", state_id)

    def _versions(self, state_id: str) -> list[int]:
        folder = self._dir(state_id)
        if not folder.is_dir():
            return []
        return sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit())

    def _read(self, state_id: str, version: int) -> StateVersion:
        data = json.loads((self._dir(state_id) / f"{version:08d}.json").read_text("utf-8"))
        return StateVersion.model_validate(data)

    def _write(self, record: StateVersion) -> None:
        folder = self._dir(record.state_id)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(record.model_dump_json())
            fh.flush()
            os.fsync(fh.fileno())
        target = folder / f"{record.version:08d}.json"
        if target.exists():
            os.unlink(tmp)
            raise FileExistsError(f"state version {record.version} of {record.state_id} exists")
        os.replace(tmp, target)

    async def get(self, state_id: str) -> StateVersion | None:
        versions = self._versions(state_id)
        return self._read(state_id, versions[-1]) if versions else None

    async def set(
        self,
        state_id: str,
        value: dict[str, Any],
        *,
        execution_id: str | None = None,
        partial: bool = False,
        note: str = "",
    ) -> StateVersion:
        versions = self._versions(state_id)
        record = StateVersion(
            state_id=state_id,
            version=(versions[-1] if versions else 0) + 1,
            value=value,
            created_at=utc_now(),
            execution_id=execution_id,
            partial=partial,
            note=note,
        )
        await asyncio.to_thread(self._write, record)
        for old in versions:
            if old <= record.version - self.retention:
                (self._dir(state_id) / f"{old:08d}.json").unlink(missing_ok=True)
        return record

    async def history(self, state_id: str, *, limit: int = 50) -> list[StateVersion]:
        return [self._read(state_id, v) for v in reversed(self._versions(state_id))][:limit]

    async def restore(self, state_id: str, version: int) -> StateVersion:
        if version not in self._versions(state_id):
            raise NotFound(
                f"state {state_id!r} has no version {version}", state_id=state_id, version=version
            )
        old = self._read(state_id, version)
        return await self.set(state_id, old.value, note=f"restored from version {version}")

    async def clear(self, state_id: str) -> None:
        if not self._versions(state_id):
            raise NotFound(f"no state stored for {state_id!r}", state_id=state_id)
        await self.set(state_id, {}, note="cleared")

    async def list_ids(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self._versions(p.name))
