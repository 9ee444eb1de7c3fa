"""The chart's production parts: the scheduler role, real health probes, EMQX auth, alerting rules."""

from __future__ import annotations

from typing import Any

import promql_parser
import pytest
from prometheus_client.metrics import MetricWrapperBase

from tests.helm.test_chart import by_kind, containers, render, scenario


def _named(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(doc for doc in by_kind(docs, kind) if doc["metadata"]["name"] == name)


def test_scheduler_runs_as_replicas_with_metrics_scraped() -> None:
    docs = render(scenario("production-values.yaml"))
    deployment = _named(docs, "Deployment", "city-hatang-scheduler")
    assert deployment["spec"]["replicas"] >= 2  # safe: one leader by advisory lock
    container = next(containers(deployment))
    assert container["args"] == ["scheduler"]
    env = {item["name"]: item for item in container["env"]}
    assert env["HATANG_SCHEDULER__NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert {"HATANG_DATABASE_URL"} <= env.keys()
    monitor = _named(docs, "ServiceMonitor", "city-hatang-scheduler")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    off = render(scenario("default-values.yaml") | {"scheduler": {"enabled": False, "replicaCount": 1,
                                                                   "metricsPort": 9110}})  # fmt: skip
    assert not [d for d in off if d["metadata"]["name"] == "city-hatang-scheduler"]


def test_probes_use_the_health_endpoints() -> None:
    docs = render(scenario("production-values.yaml"))
    for kind, name in (("StatefulSet", "city-hatang-ingest"), ("Deployment", "city-hatang-api")):
        container = next(containers(_named(docs, kind, name)))
        ports = {port["name"] for port in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["readinessProbe"]["httpGet"]["port"] in ports, name


def _selectors(expr: Any, out: set[str]) -> set[str]:
    """Every metric name a parsed PromQL expression selects."""
    if type(expr).__name__ == "VectorSelector":
        out.add(expr.name)
        return out
    for attr in ("lhs", "rhs", "expr", "param", "vector_selector"):
        child = getattr(expr, attr, None)
        if child is not None:
            _selectors(child, out)
    for arg in getattr(expr, "args", None) or ():
        _selectors(arg, out)
    return out


def exported_metrics() -> set[str]:
    """The series names hatang's processes export: ingest, scheduler, alerts and API registries."""
    import api.metrics
    from alerts.metrics import AlertMetrics
    from hatang.scheduler import SchedulerMetrics
    from ingest.metrics import IngestMetrics

    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    families = [
        *IngestMetrics().registry.collect(),
        *SchedulerMetrics().registry.collect(),
        *AlertMetrics().registry.collect(),
    ]
    for value in vars(api.metrics).values():
        if isinstance(value, MetricWrapperBase):
            families.extend(value.collect())
    # Labelled families have no samples until first used: derive the series names from the type.
    return {f.name + suffix for f in families for suffix in suffixes[f.type]}


def test_every_alert_expression_parses_and_names_exported_metrics() -> None:
    docs = render(scenario("production-values.yaml"))
    (rule,) = by_kind(docs, "PrometheusRule")
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert set(alerts) == {
        "HatangIngestLagHigh", "HatangIngestNoCommit", "HatangIngestStoreFailures",
        "HatangBrokerReconnectStorm", "HatangDeadLetterRate", "HatangApi5xxRate",
        "HatangSchedulerNotRunning", "HatangSchedulerJobFailing",
    }  # fmt: skip
    exported = exported_metrics()
    assert {"hatang_api_requests_total", "hatang_scheduler_leader", "hatang_ingest_lag_seconds_bucket"} <= (
        exported
    )
    for name, alert in alerts.items():
        named = _selectors(promql_parser.parse(alert["expr"]), set())
        assert named, name
        assert named - exported == set(), name
        assert alert["labels"]["severity"] in {"warning", "critical"}
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert not by_kind(render(scenario("default-values.yaml")), "PrometheusRule")  # off by default


def test_the_read_replica_url_comes_from_the_secret() -> None:
    docs = render(scenario("production-values.yaml"))
    api = next(containers(_named(docs, "Deployment", "city-hatang-api")))
    env = {item["name"]: item for item in api["env"]}
    ref = env["HATANG_DATABASE_READ_URL"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "hatang-production", "key": "database-read-url"}
    for config in by_kind(docs, "ConfigMap"):
        assert "HATANG_DATABASE_READ_URL" not in config.get("data", {})


def test_the_schema_refuses_the_read_replica_url_in_plain_settings() -> None:
    import helm_python as helm

    from tests.helm.test_chart import CHART

    values = scenario("default-values.yaml") | {"settings": {"database_read_url": "postgresql://u:p@h/db"}}
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match="settings"):
        chart.validate_schema(chart.merge_values(values))


def test_ingest_autoscaling_never_scales_down_by_itself() -> None:
    docs = render(scenario("production-values.yaml"))
    hpa = _named(docs, "HorizontalPodAutoscaler", "city-hatang-ingest")
    assert hpa["spec"]["behavior"]["scaleDown"] == {"selectPolicy": "Disabled"}
    assert hpa["spec"]["behavior"]["scaleUp"]["policies"]
