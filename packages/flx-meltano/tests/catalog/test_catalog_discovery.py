"""Discovery runs the tap once, validates its catalog and caches it."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from flx_meltano.catalog import (
    DiscoveryError,
    catalog_cache_file,
    catalog_fingerprint,
    discover,
    discover_catalog,
)
from flx_meltano.runner import ExecutableNotFoundError

TAP = (sys.executable, str(Path(__file__).parent / "fixtures" / "discover_tap.py"))


def write_config(tmp_path: Path, **config: Any) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return path


def calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


async def test_discovers_once_then_reads_the_cache(tmp_path: Path) -> None:
    calls_file = tmp_path / "calls"
    config = write_config(tmp_path, calls_file=str(calls_file))
    cache = tmp_path / "cache" / "tap.json"
    first = await discover(TAP, config, cache_path=cache)
    second = await discover(TAP, config, cache_path=cache)
    assert first == second
    assert first["streams"][0]["tap_stream_id"] == "users"
    assert json.loads(cache.read_text()) == first
    assert calls(calls_file) == 1
    await discover(TAP, config, cache_path=cache, refresh=True)
    assert calls(calls_file) == 2


async def test_a_large_catalog_on_one_line_is_read_whole(tmp_path: Path) -> None:
    config = write_config(tmp_path, description_bytes=5_000_000)
    catalog = await discover(TAP, config)
    assert len(catalog["streams"][0]["schema"]["description"]) == 5_000_000


async def test_a_failing_discovery_reports_exit_code_and_stderr(tmp_path: Path) -> None:
    config = write_config(tmp_path, fail=True)
    with pytest.raises(DiscoveryError) as raised:
        await discover(TAP, config, name="tap-broken")
    assert raised.value.exit_code == 2
    assert raised.value.stderr_tail == ("discovering streams", "auth failed: bad token")
    assert "tap-broken: discovery exited with code 2" in str(raised.value)
    assert "auth failed: bad token" in str(raised.value)


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ({"garbage": True}, "did not print a JSON catalog"),
        ({"no_streams": True}, "without a list of streams"),
    ],
)
async def test_output_that_is_not_a_catalog_is_refused(
    tmp_path: Path, behaviour: dict[str, bool], message: str
) -> None:
    cache = tmp_path / "cache.json"
    with pytest.raises(DiscoveryError, match=message):
        await discover(TAP, write_config(tmp_path, **behaviour), cache_path=cache)
    assert not cache.exists()


async def test_a_hanging_discovery_times_out_and_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    config = write_config(tmp_path, hang=True, pid_file=str(pid_file))
    with pytest.raises(DiscoveryError, match=r"timed out after 0\.5 s"):
        await discover(TAP, config, timeout=0.5)
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


async def test_a_missing_tap_is_named(tmp_path: Path) -> None:
    with pytest.raises(ExecutableNotFoundError, match="tap-gone"):
        await discover("flx-no-such-tap", write_config(tmp_path), name="tap-gone")


async def test_an_unreadable_cache_is_replaced(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    cache.write_text("{not json")
    catalog = await discover(TAP, write_config(tmp_path), cache_path=cache)
    assert json.loads(cache.read_text()) == catalog


async def test_the_blocking_form_works_under_a_running_loop(tmp_path: Path) -> None:
    catalog = discover_catalog(TAP, write_config(tmp_path))
    assert [s["tap_stream_id"] for s in catalog["streams"]] == ["users"]


def test_the_cache_key_hashes_the_config_and_hides_secrets(tmp_path: Path) -> None:
    config = {"api_key": "s3cret-value", "start_date": "2024-01-01"}
    path = catalog_cache_file(tmp_path, "tap-x", TAP, config)
    assert path.parent == tmp_path
    assert path.name.startswith("tap-x-")
    assert "s3cret" not in path.name
    assert catalog_fingerprint(TAP, config) == catalog_fingerprint(TAP, dict(config))
    assert catalog_fingerprint(TAP, config) != catalog_fingerprint(TAP, {**config, "api_key": "x"})
    assert catalog_fingerprint(TAP, config) != catalog_fingerprint((*TAP, "--flag"), config)
