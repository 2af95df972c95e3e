"""Manifests: every field validated, and a bad one named by file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from flx_plugin import ExtensionManifest, FlxExtension, ManifestError, load_manifest
from flx_plugin.extension import manifest_data_of


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('name = "Bad Name"\nversion = "1"\nentry = "m:x"\n', "field 'name'"),
        ('name = "x"\nversion = "one"\nentry = "m:x"\n', "field 'version'"),
        ('name = "x"\nversion = "1"\nentry = "no-colon"\n', "field 'entry'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\nrequires = ["??"]\n', "field 'requires'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\nrequires = ["x>=1"]\n', "require itself"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\nflx = "latest"\n', "field 'flx'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\nkind = "tap"\n', "field 'kind'"),
        ('name = "x"\nversion = "1"\n', "field 'entry'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\ncolour = 1\n', "field 'colour'"),
        ("name = ", "invalid TOML"),
    ],
)
def test_bad_manifest_names_file_and_field(tmp_path: Path, toml: str, needle: str) -> None:
    path = tmp_path / "flx-extension.toml"
    path.write_text(toml)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_a_full_manifest(tmp_path: Path) -> None:
    path = tmp_path / "flx-extension.toml"
    path.write_text(
        'name = "alerts"\nversion = "1.2.0"\ndescription = "Alerts"\nkind = "extension"\n'
        'requires = ["base>=1,<2"]\nflx = ">=0.1"\nentry = "alerts.plugin:Plugin"\n'
        'provides = ["cli:alerts", "event:ExecutionFailed"]\n'
    )
    manifest = load_manifest(path)
    assert manifest.requirements[0].name == "base"
    assert str(manifest.parsed_version) == "1.2.0"
    assert manifest.provides == ("cli:alerts", "event:ExecutionFailed")


def test_flx_compatibility_uses_the_specifier() -> None:
    from packaging.version import Version

    manifest = ExtensionManifest(name="x", version="1", entry="m:x", flx=">=0.1,<1")
    assert manifest.supports(Version("0.1.0"))
    assert not manifest.supports(Version("1.0"))


def test_a_flx_extension_subclass_carries_its_manifest() -> None:
    class Alerts(FlxExtension):
        name = "alerts"
        version = "1.3.0"
        requires = ("base>=1",)

        def activate(self, context: object) -> None:
            return None

    assert (
        manifest_data_of(Alerts)
        == manifest_data_of(Alerts())
        == {
            "name": "alerts",
            "version": "1.3.0",
            "description": "",
            "kind": "extension",
            "requires": ("base>=1",),
            "flx": "",
            "provides": (),
        }
    )
    assert manifest_data_of(type("M", (), {"manifest": {"name": "m"}})) == {"name": "m"}
    assert manifest_data_of(object()) is None
