"""Merging Singer states, as Meltano does for partial state of unfinished runs."""

from __future__ import annotations

from typing import Any


def merge_states(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` laid over ``base``, recursively for nested objects.

    A run that emits bookmarks for only some streams keeps the others' bookmarks from the
    previous state; a stream the update mentions takes the update's values.
    """
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = merge_states(current, value)
        else:
            merged[key] = value
    return merged
