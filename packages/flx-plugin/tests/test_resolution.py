"""Resolution: missing, conflicting, cyclic and multi-version extensions, pins, bad manifests."""

from __future__ import annotations

from pathlib import Path

from flx_plugin import ExtensionDiscovery, Resolution, resolve


def run(extension_dir: Path, flx: str = "0.1.0", **kw: object) -> Resolution:
    found = ExtensionDiscovery(extension_dir, entry_points=False).scan_sync()
    return resolve(found, flx_version=flx, **kw)  # type: ignore[arg-type]


def test_dependencies_load_first(extension_dir, make_extension) -> None:
    make_extension("app", requires=["alerts>=1.2"])
    make_extension("alerts", version="1.3.0", requires=["base"])
    make_extension("base")
    make_extension("zed")
    res = run(extension_dir)
    assert [p.name for p in res.order] == ["base", "zed", "alerts", "app"]
    assert res.ok


def test_missing_dependency_is_named_and_only_its_dependents_fail(
    extension_dir, make_extension
) -> None:
    make_extension("app", requires=["ghost>=1"])
    make_extension("uses-app", requires=["app"])
    make_extension("fine")
    res = run(extension_dir)
    assert res.failed["app"] == "requires ghost>=1, which is missing"
    assert res.failed["uses-app"].startswith("requires app, which does not load: requires ghost")
    assert [p.name for p in res.order] == ["fine"]
    assert not res.ok


def test_highest_compatible_version_wins(extension_dir, make_extension) -> None:
    make_extension("alerts-1", name="alerts", version="1.3.0")
    make_extension("alerts-2", name="alerts", version="2.1.0")
    make_extension("alerts-3", name="alerts", version="3.0.0", flx=">=9")
    make_extension("app", requires=["alerts<3"])
    res = run(extension_dir)
    assert {p.name: p.version for p in res.order} == {"alerts": "2.1.0", "app": "1.0.0"}
    assert res.chosen("alerts").location.endswith("alerts-2")
    assert res.not_chosen["alerts"] == ["1.3.0", "3.0.0"]


def test_requirements_narrow_the_version(extension_dir, make_extension) -> None:
    make_extension("alerts-1", name="alerts", version="1.3.0")
    make_extension("alerts-2", name="alerts", version="2.1.0")
    make_extension("old-app", requires=["alerts<2"])
    assert {p.name: p.version for p in run(extension_dir).order}["alerts"] == "1.3.0"


def test_a_requirement_above_what_exists_is_a_conflict(extension_dir, make_extension) -> None:
    make_extension("alerts", version="1.3.0")
    make_extension("a", requires=["alerts>=2"])
    res = run(extension_dir)
    assert res.failed["a"] == (
        "version conflict on alerts: a requires alerts>=2; available: alerts 1.3.0"
    )
    assert [p.name for p in res.order] == ["alerts"]


def test_incompatible_ranges_name_both_requirements(extension_dir, make_extension) -> None:
    make_extension("alerts-1", name="alerts", version="1.3.0")
    make_extension("alerts-2", name="alerts", version="2.1.0")
    make_extension("a", requires=["alerts>=2"])
    make_extension("b", requires=["alerts<1.4"])
    res = run(extension_dir)
    assert set(res.failed) == {"a", "b"}
    (conflict,) = res.conflicts
    assert "a requires alerts>=2" in conflict and "b requires alerts<1.4" in conflict
    assert "available: alerts 1.3.0, 2.1.0" in conflict
    assert [p.name for p in res.order] == ["alerts"]


def test_cycle_names_its_members(extension_dir, make_extension) -> None:
    make_extension("a", requires=["b"])
    make_extension("b", requires=["c"])
    make_extension("c", requires=["a"])
    make_extension("d", requires=["a"])
    make_extension("e")
    res = run(extension_dir)
    assert set(res.failed) == {"a", "b", "c", "d"}
    assert res.failed["a"].startswith("dependency cycle: ")
    (cycle,) = res.cycles
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]
    assert "requires a, which does not load: dependency cycle" in res.failed["d"]
    assert [p.name for p in res.order] == ["e"]


def test_pins_and_disabled(extension_dir, make_extension) -> None:
    make_extension("alerts-1", name="alerts", version="1.3.0")
    make_extension("alerts-2", name="alerts", version="2.1.0")
    make_extension("uses", requires=["off"])
    make_extension("off")
    res = run(extension_dir, pins={"alerts": "==1.3.0"}, disabled={"off"})
    assert {p.name: p.version for p in res.order} == {"alerts": "1.3.0"}
    assert res.disabled == ["off"]
    assert res.failed["uses"] == "requires off, but off is disabled in extensions.toml"
    res = run(extension_dir, pins={"alerts": ">=5"})
    assert res.failed["alerts"] == (
        "pinned to >=5 in extensions.toml, but only 1.3.0, 2.1.0 is available"
    )


def test_incompatible_flx_version(extension_dir, make_extension) -> None:
    make_extension("future", flx=">=2.0")
    res = run(extension_dir, flx="0.1.0")
    assert res.failed["future"] == "no version supports FLX 0.1.0 (1.0.0 needs flx>=2.0)"


def test_bad_manifest_does_not_stop_the_others(extension_dir, make_extension) -> None:
    make_extension("good")
    broken = make_extension("broken")
    (broken / "flx-extension.toml").write_text('name = "broken"\nversion = "x.y"\nentry = "p:q"\n')
    res = run(extension_dir)
    assert [p.name for p in res.order] == ["good"]
    (error,) = res.invalid.values()
    assert str(broken / "flx-extension.toml") in error and "field 'version'" in error
    assert not res.ok


def test_a_folder_wins_over_an_entry_point_at_the_same_version(
    extension_dir, make_extension
) -> None:
    from flx_plugin import DiscoveredExtension, ExtensionManifest

    make_extension("alerts", version="1.0.0")
    installed = DiscoveredExtension(
        "entry_point",
        "alerts_pkg:plugin",
        ExtensionManifest(name="alerts", version="1.0.0", entry="alerts_pkg:plugin"),
    )
    found = [installed, *ExtensionDiscovery(extension_dir, entry_points=False).scan_sync()]
    assert resolve(found, flx_version="0.1.0").order[0].origin == "directory"
    newer = DiscoveredExtension(
        "entry_point",
        "alerts_pkg:plugin",
        ExtensionManifest(name="alerts", version="1.0.1", entry="alerts_pkg:plugin"),
    )
    found[0] = newer
    assert resolve(found, flx_version="0.1.0").order[0] is newer
