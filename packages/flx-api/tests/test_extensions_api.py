"""Extensions over HTTP: what `flx extension list` and `flx extension info` report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

IDLE_CODE = "class P:\n    def activate(self, context):\n        pass\n\nplugin = P()\n"


def write_extension(root: Path, name: str, version: str) -> None:
    folder = root / f"{name}-{version}"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "__init__.py").write_text(IDLE_CODE)
    (folder / "flx-extension.toml").write_text(
        f'name = "{name}"\nversion = "{version}"\nentry = "pkg:plugin"\n'
        'description = "Sends alerts"\n'
    )


def test_no_extensions_is_an_empty_list_and_an_unknown_one_is_404(sqlite_api: Any) -> None:
    listed = sqlite_api.viewer.get("/api/v1/extensions")
    assert listed.status_code == 200, listed.text
    assert listed.json() == []
    missing = sqlite_api.viewer.get("/api/v1/extensions/alerts")
    assert missing.status_code == 404
    assert missing.json()["code"] == "not_found"
    assert sqlite_api.anonymous.get("/api/v1/extensions").status_code == 401


def test_extensions_found_are_listed_and_described(sqlite_api: Any) -> None:
    root = sqlite_api.settings.home_path / "extensions.d"
    write_extension(root, "alerts", "1.0.0")
    write_extension(root, "alerts", "1.2.0")
    broken = root / "broken"
    broken.mkdir()
    (broken / "flx-extension.toml").write_text('name = "broken"\n')
    rows = sqlite_api.viewer.get("/api/v1/extensions").json()
    by_name = {(r["name"], r["state"]) for r in rows}
    assert ("alerts", "resolved") in by_name
    assert ("broken", "failed") in by_name
    failed = next(r for r in rows if r["name"] == "broken")
    assert "version" in failed["reason"]
    info = sqlite_api.viewer.get("/api/v1/extensions/alerts")
    assert info.status_code == 200, info.text
    alerts = info.json()
    assert (alerts["version"], alerts["state"], alerts["live"]) == ("1.2.0", "resolved", False)
    assert alerts["description"] == "Sends alerts"
    assert sorted(alerts["versions"]) == ["1.0.0", "1.2.0"]
