"""The dashboard's forms: they read and check what a person typed (JSON, lists, numbers)
and hand the application layer a message; the rules of FLX stay in the application layer,
whose refusals come back here as errors of the fields they name."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from flx_core.domain import mask_inline_secrets
from flx_web.bus import Refused


def _words(value: str) -> list[str]:
    return [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]


class JsonObjectField(forms.CharField):
    """A JSON object typed into a text area."""

    widget = forms.Textarea(attrs={"rows": 8, "spellcheck": "false"})

    def to_python(self, value: Any) -> dict[str, Any]:
        text = (value or "").strip()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
            ) from None
        if not isinstance(parsed, dict):
            raise forms.ValidationError("must be a JSON object ({...})")
        return parsed


class PipelineForm(forms.Form):
    name = forms.CharField(
        max_length=63,
        help_text="Lowercase letters, digits, - and _, starting with a letter or digit.",
    )
    description = forms.CharField(required=False, max_length=500)
    extractor = forms.ChoiceField(help_text="The tap: an extractor plugin.")
    loader = forms.ChoiceField(help_text="The target: a loader plugin.")
    mappers = forms.CharField(
        required=False, help_text="Mapper plugins, comma-separated, in order."
    )
    config = JsonObjectField(
        required=False,
        help_text='Settings per plugin: {"tap-x": {"start_date": "2026-01-01"}}. Secret values '
        "show masked; leave them masked to keep them.",
    )
    select = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text="Select rules, one a line: users.*, !orders.secret",
    )
    schedule = forms.CharField(
        required=False,
        max_length=100,
        help_text="Cron (0 * * * *) or @hourly, @daily...; empty: none.",
    )
    timezone = forms.CharField(initial="UTC", max_length=64, help_text="Of the schedule.")
    tags = forms.CharField(required=False, help_text="Comma-separated.")
    retries = forms.IntegerField(initial=0, min_value=0, max_value=20)
    enabled = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args: Any, extractors: list[str], loaders: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["extractor"].choices = [(n, n) for n in extractors]
        self.fields["loader"].choices = [(n, n) for n in loaders]

    def fields_for_bus(self) -> dict[str, Any]:
        """The cleaned values as the pipeline messages take them."""
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "description": data["description"],
            "extractor": data["extractor"],
            "loader": data["loader"],
            "mappers": _words(data["mappers"]),
            "config": data["config"],
            "select": [line.strip() for line in data["select"].splitlines() if line.strip()],
            "schedule": data["schedule"].strip() or None,
            "timezone": data["timezone"].strip() or "UTC",
            "tags": _words(data["tags"]),
            "retries": data["retries"],
            "enabled": data["enabled"],
        }


def refused_into(form: forms.Form, refused: Refused) -> None:
    """Put a refusal of the application layer on the fields it names (``config.tap-x.port:
    must be an integer; schedule: ...``), the rest on the form."""
    for part in mask_inline_secrets(refused.message).split("; "):
        field, sep, text = part.partition(": ")
        head = field.split(".", 1)[0].strip()
        if sep and head in form.fields:
            form.add_error(head, f"{field}: {text}" if "." in field else text)
        else:
            form.add_error(None, part)


class PluginForm(forms.Form):
    plugin_type = forms.ChoiceField(
        choices=[(t, t) for t in ("extractor", "loader", "mapper", "utility")]
    )
    name = forms.CharField(max_length=128)
    variant = forms.CharField(required=False, max_length=128)
    pip_url = forms.CharField(
        required=False, max_length=1000, help_text="What pip installs: a package or a URL."
    )
    executable = forms.CharField(required=False, max_length=500)
    namespace = forms.CharField(required=False, max_length=128)
    config = JsonObjectField(required=False, help_text="Plugin-level settings as JSON.")

    def fields_for_bus(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "plugin_type": data["plugin_type"],
            "name": data["name"].strip(),
            "variant": data["variant"].strip() or None,
            "pip_url": data["pip_url"].strip() or None,
            "executable": data["executable"].strip() or None,
            "namespace": data["namespace"].strip(),
            "config": data["config"],
        }


class UserForm(forms.Form):
    email = forms.EmailField(max_length=320)
    password = forms.CharField(widget=forms.PasswordInput, help_text="The password policy applies.")
    roles = forms.MultipleChoiceField(
        choices=[(r, r) for r in ("viewer", "operator", "admin")],
        widget=forms.CheckboxSelectMultiple,
        initial=["viewer"],
    )
