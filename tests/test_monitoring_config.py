"""deploy/prometheus and deploy/grafana against the metrics FLX exports: every flx_* name an
alert rule or a dashboard panel queries is one the code produces, the rules are well formed,
and (where promtool is installed) Prometheus itself accepts them and their unit tests pass.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "flx.rules.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "flx-dashboard.json"
NAME = re.compile(r"\bflx_[a-z0-9_]+")
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
}


def exported() -> set[str]:
    """Every sample name of the process metrics and of the business metrics (over a
    snapshot with one of everything)."""
    from prometheus_client.metrics import MetricWrapperBase

    from flx_observability import metrics
    from flx_observability.metrics_business import BusinessMetrics
    from flx_observability.metrics_snapshot import (
        BusinessSnapshot,
        ExecutionTotals,
        PipelineTotals,
        StreamTotals,
    )

    async def read() -> BusinessSnapshot:
        raise AssertionError("not read")

    business = BusinessMetrics(read)
    business.snapshot = BusinessSnapshot(
        executions=[ExecutionTotals("p", "succeeded", 1, (1,) * 13, 1, 1.0)],
        pipelines=[
            PipelineTotals(
                "p",
                success_rate_24h=1.0,
                success_rate_7d=1.0,
                last_success_timestamp=1.0,
                freshness_seconds=1.0,
                expected_interval_seconds=60.0,
            )
        ],
        streams=[StreamTotals("p", "s", 1)],
        login_failures={"bad_credentials": 1},
        lockouts=1,
        oldest_queued_seconds=1.0,
        scheduler_last_tick=1.0,
    )
    business._read_at = 0.0
    families = [
        f for m in vars(metrics).values() if isinstance(m, MetricWrapperBase) for f in m.describe()
    ]
    names: set[str] = set()
    for family in [*families, *business.collect()]:
        names.update(family.name + s for s in SUFFIXES[family.type])
    return names


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(DASHBOARD.read_text()))
    return found


def test_every_rule_is_complete_and_queries_exported_metrics() -> None:
    names = exported()
    assert {"flx_executions_total", "flx_records_total", "flx_http_requests_total"} <= names
    found = rules()
    assert {r["alert"] for r in found} >= {
        "FlxPipelineFailing",
        "FlxPipelineOverdue",
        "FlxSchedulerNoTick",
        "FlxWorkersGone",
    }
    for rule in found:
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        used = set(NAME.findall(rule["expr"]))
        assert used, f"{rule['alert']} queries no flx_* metric"
        assert used <= names, f"{rule['alert']} queries unknown metrics {used - names}"


def test_every_dashboard_panel_queries_exported_metrics() -> None:
    names = exported()
    exprs = dashboard_exprs()
    assert len(exprs) > 20
    unknown = {n for e in exprs for n in NAME.findall(e)} - names
    assert not unknown, f"the dashboard queries unknown metrics {unknown}"
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
@pytest.mark.parametrize(
    "args",
    [
        ["check", "rules", "rules/flx.rules.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", "tests/flx.rules.test.yml"],
    ],
    ids=["check-rules", "check-config", "test-rules"],
)
def test_promtool_accepts_the_configuration(args: list[str]) -> None:
    done = subprocess.run(
        ["promtool", *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
