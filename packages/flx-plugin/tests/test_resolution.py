"""Resolution: missing, conflicting, cyclic and multi-version plugins, pins, bad manifests."""

from __future__ import annotations

from pathlib import Path

from flx_plugin import PluginDiscovery, Resolution, resolve


def run(plugin_dir: Path, flx: str = "0.1.0", **kw: object) -> Resolution:
    found = PluginDiscovery(plugin_dir, entry_points=False).scan_sync()
    return resolve(found, flx_version=flx, **kw)  # type: ignore[arg-type]


def test_dependencies_load_first(plugin_dir, make_plugin) -> None:
    make_plugin("app", requires=["alerts>=1.2"])
    make_plugin("alerts", version="1.3.0", requires=["base"])
    make_plugin("base")
    make_plugin("zed")
    res = run(plugin_dir)
    assert [p.name for p in res.order] == ["base", "zed", "alerts", "app"]
    assert res.ok


def test_missing_dependency_is_named_and_only_its_dependents_fail(plugin_dir, make_plugin) -> None:
    make_plugin("app", requires=["ghost>=1"])
    make_plugin("uses-app", requires=["app"])
    make_plugin("fine")
    res = run(plugin_dir)
    assert res.failed["app"] == "requires ghost>=1, which is missing"
    assert res.failed["uses-app"].startswith("requires app, which does not load: requires ghost")
    assert [p.name for p in res.order] == ["fine"]
    assert not res.ok


def test_highest_compatible_version_wins(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("alerts-3", name="alerts", version="3.0.0", flx=">=9")
    make_plugin("app", requires=["alerts<3"])
    res = run(plugin_dir)
    assert {p.name: p.version for p in res.order} == {"alerts": "2.1.0", "app": "1.0.0"}
    assert res.chosen("alerts").location.endswith("alerts-2")
    assert res.not_chosen["alerts"] == ["1.3.0", "3.0.0"]


def test_requirements_narrow_the_version(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("old-app", requires=["alerts<2"])
    assert {p.name: p.version for p in run(plugin_dir).order}["alerts"] == "1.3.0"


def test_a_requirement_above_what_exists_is_a_conflict(plugin_dir, make_plugin) -> None:
    make_plugin("alerts", version="1.3.0")
    make_plugin("a", requires=["alerts>=2"])
    res = run(plugin_dir)
    assert res.failed["a"] == (
        "version conflict on alerts: a requires alerts>=2; available: alerts 1.3.0"
    )
    assert [p.name for p in res.order] == ["alerts"]


def test_incompatible_ranges_name_both_requirements(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("a", requires=["alerts>=2"])
    make_plugin("b", requires=["alerts<1.4"])
    res = run(plugin_dir)
    assert set(res.failed) == {"a", "b"}
    (conflict,) = res.conflicts
    assert "a requires alerts>=2" in conflict and "b requires alerts<1.4" in conflict
    assert "available: alerts 1.3.0, 2.1.0" in conflict
    assert [p.name for p in res.order] == ["alerts"]


def test_cycle_names_its_members(plugin_dir, make_plugin) -> None:
    make_plugin("a", requires=["b"])
    make_plugin("b", requires=["c"])
    make_plugin("c", requires=["a"])
    make_plugin("d", requires=["a"])
    make_plugin("e")
    res = run(plugin_dir)
    assert set(res.failed) == {"a", "b", "c", "d"}
    assert res.failed["a"].startswith("dependency cycle: ")
    (cycle,) = res.cycles
    assert set(cycle) == {"a", "b", "c"} and cycle[0] == cycle[-1]
    assert "requires a, which does not load: dependency cycle" in res.failed["d"]
    assert [p.name for p in res.order] == ["e"]


def test_pins_and_disabled(plugin_dir, make_plugin) -> None:
    make_plugin("alerts-1", name="alerts", version="1.3.0")
    make_plugin("alerts-2", name="alerts", version="2.1.0")
    make_plugin("uses", requires=["off"])
    make_plugin("off")
    res = run(plugin_dir, pins={"alerts": "==1.3.0"}, disabled={"off"})
    assert {p.name: p.version for p in res.order} == {"alerts": "1.3.0"}
    assert res.disabled == ["off"]
    assert res.failed["uses"] == "requires off, but off is disabled in plugins.toml"
    res = run(plugin_dir, pins={"alerts": ">=5"})
    assert res.failed["alerts"] == (
        "pinned to >=5 in plugins.toml, but only 1.3.0, 2.1.0 is available"
    )


def test_incompatible_flx_version(plugin_dir, make_plugin) -> None:
    make_plugin("future", flx=">=2.0")
    res = run(plugin_dir, flx="0.1.0")
    assert res.failed["future"] == "no version supports FLX 0.1.0 (1.0.0 needs flx>=2.0)"


def test_bad_manifest_does_not_stop_the_others(plugin_dir, make_plugin) -> None:
    make_plugin("good")
    broken = make_plugin("broken")
    (broken / "flx-plugin.toml").write_text('name = "broken"\nversion = "x.y"\nentry = "p:q"\n')
    res = run(plugin_dir)
    assert [p.name for p in res.order] == ["good"]
    (error,) = res.invalid.values()
    assert str(broken / "flx-plugin.toml") in error and "field 'version'" in error
    assert not res.ok


def test_a_folder_wins_over_an_entry_point_at_the_same_version(plugin_dir, make_plugin) -> None:
    from flx_plugin import DiscoveredPlugin, PluginManifest

    make_plugin("alerts", version="1.0.0")
    installed = DiscoveredPlugin(
        "entry_point",
        "alerts_pkg:plugin",
        PluginManifest(name="alerts", version="1.0.0", entry="alerts_pkg:plugin"),
    )
    found = [installed, *PluginDiscovery(plugin_dir, entry_points=False).scan_sync()]
    assert resolve(found, flx_version="0.1.0").order[0].origin == "directory"
    newer = DiscoveredPlugin(
        "entry_point",
        "alerts_pkg:plugin",
        PluginManifest(name="alerts", version="1.0.1", entry="alerts_pkg:plugin"),
    )
    found[0] = newer
    assert resolve(found, flx_version="0.1.0").order[0] is newer
