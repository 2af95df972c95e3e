"""The state a run starts from: the stored one, or the pipeline's state file.

A state file (Meltano's ``state`` extra) takes the place of the stored state on every run,
not only the first, as in Meltano: a pipeline with one always starts from the file. The
states its target emits are still committed as versions (laid over the file's), so once
the file is taken off the pipeline, runs go on from where the last one stopped. A full
refresh starts from nothing, file or not. The file is passed to the tap as it is (a Singer
state such as ``{"bookmarks": ...}``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from flx_core.domain import Pipeline
from flx_core.domain.ports import StateVersion


def read_state_file(path: str | Path) -> dict[str, Any]:
    """The state in the file at ``path``; a ValueError says what is wrong with it."""
    try:
        value = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise ValueError(f"state file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"state file {path} cannot be read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"state file {path} is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"state file {path} does not hold a JSON object")
    return value


def incoming_state(
    pipeline: Pipeline, stored: StateVersion | None, *, full_refresh: bool
) -> tuple[dict[str, Any], str | None]:
    """The state to pass to the tap, and a warning when a state file hides a stored state."""
    if full_refresh:
        return {}, None
    if pipeline.state_path is None:
        return (dict(stored.value) if stored else {}), None
    value = read_state_file(pipeline.state_path)
    warning = None
    if stored is not None:
        warning = (
            f"the run starts from the state file {pipeline.state_path}, not from the stored "
            f"state of {pipeline.state_id!r} (version {stored.version}), as Meltano's state "
            "extra does; take the file off the pipeline to go on from the stored state"
        )
    return value, warning
