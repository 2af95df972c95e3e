"""Connector venvs: fingerprints, failures that leave nothing half-made, parallel installs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flx_core.domain import Plugin, PluginType
from flx_meltano.engine.commands import plugin_command, venv_dir
from flx_meltano.engine.install import install, install_one

pytestmark = pytest.mark.network


def local_package(root: Path, name: str, version: str = "1.0") -> Path:
    """A tiny installable project with a console script ``name``."""
    pkg = root / f"{name}-{version}"
    module = name.replace("-", "_")
    (pkg / module).mkdir(parents=True)
    (pkg / module / "__init__.py").write_text(f"def main():\n    print('{name} {version}')\n")
    (pkg / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "{version}"\n'
        f'[project.scripts]\n"{name}" = "{module}:main"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    return pkg


def plugin(name: str, pip_url: str) -> Plugin:
    return Plugin(plugin_type=PluginType.EXTRACTOR, name=name, pip_url=pip_url)


async def test_install_skip_reinstall_and_run(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    v1 = plugin("tap-tiny", str(local_package(tmp_path, "tap-tiny", "1.0")))
    first = await install_one(v1, root)
    assert first.status == "installed", first.error
    command = plugin_command(v1, root)
    assert subprocess.run([command], capture_output=True, text=True).stdout == "tap-tiny 1.0\n"
    assert (await install_one(v1, root)).status == "up_to_date"
    v2 = plugin("tap-tiny", str(local_package(tmp_path, "tap-tiny", "2.0")))
    assert (await install_one(v2, root)).status == "installed"
    assert subprocess.run([command], capture_output=True, text=True).stdout == "tap-tiny 2.0\n"


async def test_failure_keeps_the_previous_venv_and_reports_the_resolver(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    good = plugin("tap-tiny", str(local_package(tmp_path, "tap-tiny")))
    assert (await install_one(good, root)).status == "installed"
    bad = plugin("tap-tiny", "flx-no-such-distribution-anywhere==9.9")
    result = await install_one(bad, root)
    assert result.status == "failed"
    assert "flx-no-such-distribution-anywhere" in (result.error or "")
    assert (venv_dir(good, root) / "bin" / "tap-tiny").exists()
    assert {p.name for p in venv_dir(good, root).parent.iterdir()} == {"venv", "fingerprint.json"}


async def test_failure_without_previous_leaves_no_directory(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    bad = plugin("tap-ghost", "flx-no-such-distribution-anywhere==9.9")
    assert (await install_one(bad, root)).status == "failed"
    assert not venv_dir(bad, root).parent.exists()


async def test_wrong_executable_name_is_explained(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    odd = Plugin(
        plugin_type=PluginType.EXTRACTOR,
        name="tap-odd",
        pip_url=str(local_package(tmp_path, "tap-tiny")),
    )
    result = await install_one(odd, root)
    assert result.status == "failed"
    assert "no executable named 'tap-odd'" in (result.error or "")
    assert "tap-tiny" in (result.error or "")


async def test_parallel_install_of_several(tmp_path: Path) -> None:
    root = tmp_path / "plugins"
    plugins = [plugin(f"tap-p{i}", str(local_package(tmp_path, f"tap-p{i}"))) for i in range(3)]
    results = await install(plugins, root, parallel=3)
    assert [r.status for r in results] == ["installed"] * 3
    for p in plugins:
        assert Path(plugin_command(p, root)).exists()
