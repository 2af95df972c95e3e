"""Resolution: missing, conflicting, cyclic and multi-version plugins, and bad manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from flx_plugin import PluginDiscovery, load_manifest, resolve
from flx_plugin.manifest import ManifestError


def run(plugin_dir: Path, **kw: object):
    found = PluginDiscovery(plugin_dir, entry_points=False).scan_sync()
    return resolve(found, flx_version=str(kw.pop("flx", "0.1.0")), **kw)  # type: ignore[arg-type]


def test_dependencies_load_first(plugin_dir, make_plugin) -> None:
    make_plugin("app", requires=["alerts>=1.2"])
    make_plugin("alerts", version="1.3.0", requires=["base"])
    make_plugin("base")
    res = run(plugin_dir)
    assert [p.name for p in res.order] == ["base", "alerts", "app"]
    assert res.ok


def test_missing_dependency_is_named_and_only_its_dependents_fail(plugin_dir, make_plugin) -> None:
    make_plugin("app", requires=["ghost>=1"])
    make_plugin("fine")
    res = run(plugin_dir)
    assert res.failed == {"app": "requires ghost>=1, which is missing"}
    assert [p.name for p in res.order] == ["fine"]


def test_highest_compatible_version_wins(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("alerts-3", name="alerts", version="3.0.0", flx=">=9")
    make_plugin("app", requires=["alerts<3"])
    res = run(plugin_dir)
    chosen = {p.name: p.version for p in res.order}
    assert chosen == {"alerts": "2.1.0", "app": "1.0.0"}
    assert sorted(res.skipped["alerts"]) == ["1.3.0", "3.0.0"]


def test_requirements_narrow_the_version(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("old-app", requires=["alerts<2"])
    assert {p.name: p.version for p in run(plugin_dir).order}["alerts"] == "1.3.0"


def test_conflict_names_both_requirements_and_versions(plugin_dir, make_plugin) -> None:
    make_plugin("alerts", version="1.3.0")
    make_plugin("a", requires=["alerts>=2"])
    make_plugin("b", requires=["alerts<1.3"])
    res = run(plugin_dir)
    assert set(res.failed) == {"a", "b"}
    (conflict,) = res.conflicts
    assert "a requires alerts>=2" in conflict and "b requires alerts<1.3" in conflict
    assert "available: alerts 1.3.0" in conflict
    assert [p.name for p in res.order] == ["alerts"]


def test_cycle_names_its_members(plugin_dir, make_plugin) -> None:
    make_plugin("a", requires=["b"])
    make_plugin("b", requires=["c"])
    make_plugin("c", requires=["a"])
    make_plugin("d", requires=["a"])
    make_plugin("e")
    res = run(plugin_dir)
    assert set(res.failed) == {"a", "b", "c", "d"}
    assert "dependency cycle" in res.failed["a"]
    assert {"a", "b", "c"} <= set(res.cycles[0])
    assert "depends on a" in res.failed["d"]
    assert [p.name for p in res.order] == ["e"]


def test_pins_and_disabled(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("uses", requires=["off"])
    make_plugin("off")
    res = run(plugin_dir, pins={"alerts": "==1.3.0"}, disabled={"off"})
    assert {p.name: p.version for p in res.order} == {"alerts": "1.3.0"}
    assert res.disabled == ["off"]
    assert "it is disabled" in res.failed["uses"]
    res = run(plugin_dir, pins={"alerts": ">=5"})
    assert "pinned to >=5" in res.failed["alerts"]


def test_incompatible_flx_version(plugin_dir, make_plugin) -> None:
    make_plugin("future", flx=">=2.0")
    res = run(plugin_dir, flx="0.1.0")
    assert "no version supports FLX 0.1.0" in res.failed["future"]


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ('name = "Bad Name"\nversion = "1"\nentry = "m:x"\n', "field 'name'"),
        ('name = "x"\nversion = "one"\nentry = "m:x"\n', "field 'version'"),
        ('name = "x"\nversion = "1"\nentry = "no-colon"\n', "field 'entry'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\nrequires = ["??"]\n', "field 'requires'"),
        ('name = "x"\nversion = "1"\n', "field 'entry'"),
        ('name = "x"\nversion = "1"\nentry = "m:x"\ncolour = 1\n', "field 'colour'"),
        ("name = ", "invalid TOML"),
    ],
)
def test_bad_manifest_names_file_and_field(tmp_path: Path, toml: str, needle: str) -> None:
    path = tmp_path / "flx-plugin.toml"
    path.write_text(toml)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value) and needle in str(info.value)


def test_bad_manifest_does_not_stop_the_others(plugin_dir, make_plugin) -> None:
    make_plugin("good")
    broken = make_plugin("broken")
    (broken / "flx-plugin.toml").write_text('name = "broken"\nversion = "x.y"\nentry = "p:q"\n')
    res = run(plugin_dir)
    assert [p.name for p in res.order] == ["good"]
    assert "flx-plugin.toml" in res.failed["broken"] and "'version'" in res.failed["broken"]
