"""The dependency rules of the packages are checked by import-linter, and really bite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).parent / "lint-imports"


def run_lint(pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [str(LINT), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def test_contracts_hold() -> None:
    result = run_lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and "0 broken" in result.stdout


def test_sqlalchemy_in_the_domain_breaks_a_contract(tmp_path: Path) -> None:
    copy = tmp_path / "flx_core"
    shutil.copytree(ROOT / "packages/flx-core/src/flx_core", copy)
    (copy / "domain" / "leak.py").write_text("import sqlalchemy  # noqa\n")
    result = run_lint(pythonpath=str(tmp_path))
    assert result.returncode != 0
    assert "The domain imports no framework BROKEN" in result.stdout
    assert "flx_core.domain.leak -> sqlalchemy" in result.stdout


def test_no_not_implemented_error_outside_abstract_methods() -> None:
    offenders = []
    for path in (ROOT / "packages").glob("*/src/**/*.py"):
        if "_generated" in path.parts:
            # grpcio's generated servicer bases answer UNIMPLEMENTED for a method no
            # service overrides; the gRPC tests call every method of every service.
            continue
        text = path.read_text(encoding="utf-8")
        if "NotImplementedError" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_declared_migration_heads_match_alembic() -> None:
    from flx_core.infrastructure.persistence import discover_migration_sets, heads

    for ms in discover_migration_sets():
        assert ms.head is not None, f"{ms.name} declares no head"
        assert heads(ms) == {ms.head}, f"{ms.name}: declared {ms.head}, alembic has {heads(ms)}"
