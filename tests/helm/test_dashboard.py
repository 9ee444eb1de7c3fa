"""The Grafana dashboard the chart provisions: its Prometheus queries name metrics ingest really
exports, its SQL runs on the migrated schema and answers what the panels say, and the chart ships
it unchanged with the sidecar's label."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import helm_python as helm
import psycopg
import pytest
import yaml

from tests.helm.test_production_stack import exported_metrics

CHART = Path(__file__).resolve().parents[2] / "helm" / "hatang"
DASHBOARD: dict[str, Any] = json.loads((CHART / "dashboards" / "hatang.json").read_text())
PANELS = [panel for panel in DASHBOARD["panels"] if panel["type"] != "row"]
METRIC_NAME = re.compile(r"\bhatang_[a-z0-9_]+")


def _targets(datasource: str) -> list[dict[str, Any]]:
    return [t for p in PANELS for t in p["targets"] if t["datasource"]["uid"] == f"${{{datasource}}}"]


def _grafana_sql(raw: str) -> str:
    """The panel's SQL with Grafana's time macro expanded to the last 30 days."""
    return re.sub(
        r"\$__timeFilter\(([^()]*(?:\([^()]*\))?[^()]*)\)",
        r"\1 BETWEEN now() - interval '30 days' AND now() + interval '1 day'",
        raw,
    )


def test_every_panel_uses_a_datasource_variable() -> None:
    variables = {v["name"] for v in DASHBOARD["templating"]["list"] if v["type"] == "datasource"}
    assert variables == {"prometheus", "timescaledb"}
    for panel in PANELS:
        assert panel["targets"], panel["title"]
        assert {t["datasource"]["uid"] for t in panel["targets"]} <= {"${prometheus}", "${timescaledb}"}


def test_prometheus_queries_name_metrics_hatang_exports() -> None:
    # Ingest's, the scheduler's, the alerts' and the API's own metrics; EMQX's (emqx_*) are EMQX 5's
    # documented names.
    exported = exported_metrics()
    named = {name for t in _targets("prometheus") for name in METRIC_NAME.findall(t["expr"])}
    assert named, "the dashboard has Prometheus panels"
    assert named - exported == set()


def test_dashboard_covers_rate_lag_rejections_and_readiness() -> None:
    exprs = " ".join(t["expr"] for t in _targets("prometheus"))
    for metric in ("readings_stored_total", "lag_seconds_bucket", "rejections_total", "commit_seconds_bucket",
                   "queue_messages", "last_commit_timestamp_seconds"):
        assert f"hatang_ingest_{metric}" in exprs
    assert any("readiness_snapshots" in t["rawSql"] for t in _targets("timescaledb"))
    # The API and the broker have their own panels.
    for metric in ("hatang_api_requests_total", "hatang_api_request_duration_seconds_bucket",
                   "emqx_connections_count", "emqx_authentication_failure", "hatang_scheduler_leader"):
        assert metric in exprs
    for metric in ("opened_total", "resolved_total", "open_lag_seconds_bucket", "evaluations_total",
                   "notifications_delivered_total", "notification_failures_total", "notifications_pending"):
        assert f"hatang_alerts_{metric}" in exprs
    assert any("FROM alerts" in t["rawSql"] for t in _targets("timescaledb"))


def test_sql_panels_run_on_the_migrated_schema(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO readiness_snapshots"
            " (day, sector, essential, equipped, ready, freshness_window, taken_at)"
            " VALUES (current_date, 'water', 50, 30, 20, interval '24 hours', now()),"
            " (current_date - 1, 'water', 50, 20, 10, interval '24 hours', now())"
        )
        results = {}
        for target in _targets("timescaledb"):
            cur = conn.execute(_grafana_sql(target["rawSql"]))
            columns = [c.name for c in cur.description or []]
            results[target["rawSql"]] = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    latest = next(rows for sql, rows in results.items() if "max(day)" in sql)
    shown = [(r["sector"], float(r["ready %"]), float(r["target %"])) for r in latest]
    assert shown == [("water", 40.0, 40.0)]
    history = next(rows for sql, rows in results.items() if "AS metric" in sql)
    assert [float(r["value"]) for r in history] == [20.0, 40.0]


@pytest.mark.parametrize("enabled", [True, False])
def test_chart_provisions_the_dashboard_for_the_sidecar(enabled: bool) -> None:
    values = {"secrets": {"existingSecret": "hatang-env"}, "grafana": {"dashboards": {"enabled": enabled}}}
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="city", namespace="hatang")
    text = rendered["hatang/templates/grafana-dashboard.yaml"]
    if not enabled:
        assert text.strip() == ""
        return
    config = yaml.safe_load(text)
    assert config["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(config["data"]["hatang.json"]) == DASHBOARD
