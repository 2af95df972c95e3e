"""The extractor's load schema, handed to the loader as Meltano does.

Meltano gives the loader of a pipeline the variable ``MELTANO_EXTRACT__LOAD_SCHEMA``: the
extractor's ``load_schema`` extra, or its namespace when unset. Loader settings refer to
it (``default_target_schema: $MELTANO_EXTRACT__LOAD_SCHEMA`` is the default of
target-postgres, target-snowflake... in their Meltano definitions), and a few targets read
the variable itself. FLX does both: the references in the loader's settings are replaced
with the value, and the variable is set in the loader's environment.
"""

from __future__ import annotations

import re
from typing import Any

from flx_core.domain import Pipeline, Plugin

#: The variable Meltano sets for the loader (referenced as ``$VAR`` or ``${VAR}``).
LOAD_SCHEMA_VARIABLE = "MELTANO_EXTRACT__LOAD_SCHEMA"
_REFERENCE = re.compile(rf"\$\{{{LOAD_SCHEMA_VARIABLE}\}}|\${LOAD_SCHEMA_VARIABLE}(?!\w)")


def load_schema_of(pipeline: Pipeline, extractor: Plugin) -> str:
    """The pipeline's load schema, else the extractor's namespace (Meltano's default)."""
    return pipeline.load_schema or extractor.namespace


def references_load_schema(value: Any) -> bool:
    if isinstance(value, dict):
        return any(references_load_schema(v) for v in value.values())
    if isinstance(value, list):
        return any(references_load_schema(v) for v in value)
    return isinstance(value, str) and _REFERENCE.search(value) is not None


def expand_load_schema(value: Any, schema: str) -> Any:
    """``value`` (a setting value, nested or not) with the references replaced."""
    if isinstance(value, dict):
        return {k: expand_load_schema(v, schema) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_load_schema(v, schema) for v in value]
    if isinstance(value, str):
        return _REFERENCE.sub(lambda _: schema, value)
    return value
