"""The chart's production parts: the scheduler role, real health probes, EMQX auth, alerting rules."""

from __future__ import annotations

from typing import Any

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
