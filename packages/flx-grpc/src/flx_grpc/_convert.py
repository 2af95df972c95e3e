"""Domain objects to messages and messages to plain values, through their JSON forms.

The messages name their fields as the domain models (and the REST API's documents) do, so
a model's JSON dump parses into its message, and a request's fields feed a bus message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage
from pydantic import BaseModel

from flx_grpc._errors import invalid_field

M = TypeVar("M", bound=ProtoMessage)


def to_proto(value: BaseModel | Mapping[str, Any], cls: type[M], **replace: Any) -> M:
    """``value`` as a ``cls`` message (fields it does not have are left out)."""
    data = value.model_dump(mode="json") if isinstance(value, BaseModel) else dict(value)
    data.update(replace)
    message = cls()
    json_format.ParseDict(data, message, ignore_unknown_fields=True)
    return message


def to_protos(values: Iterable[BaseModel | Mapping[str, Any]], cls: type[M]) -> list[M]:
    return [to_proto(v, cls) for v in values]


def plain(message: ProtoMessage, *, defaults: bool = False) -> dict[str, Any]:
    """The fields of a message as JSON values, by their proto names: only those set (or
    every field with ``defaults``). Whole numbers in ``Struct`` values, which protobuf
    keeps as doubles, come back as integers."""
    data = json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=defaults,
    )
    result: dict[str, Any] = _whole(data)
    return result


def _whole(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole(v) for v in value]
    return value


def masked_changes(message: ProtoMessage, paths: Iterable[str]) -> dict[str, Any]:
    """The values of the fields a field mask names (unset ones as their defaults)."""
    fields = plain(message, defaults=True)
    known = {f.name for f in message.DESCRIPTOR.fields}
    changes: dict[str, Any] = {}
    for path in paths:
        if path not in known:
            raise invalid_field("update_mask", f"no field {path!r} can be changed")
        changes[path] = fields.get(path)
    return changes
