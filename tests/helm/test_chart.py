"""The Helm chart: lint, render and Kubernetes-schema validation of every ci/ scenario, offline.

Helm's own Go SDK (PyPI ``helm-python-sdk``) lints and renders; ``kubernetes-validate`` checks each
manifest against the Kubernetes API schemas of the oldest and newest supported versions (strict:
an unknown field fails). The ServiceMonitor is a Prometheus-operator CRD those schemas do not cover
(no package reachable here ships its schema without side effects): it is checked for what matters,
that it selects the chart's Services and names their ports. Settings wiring is checked against
``hatang.settings.Settings`` itself, so a new setting cannot be forgotten by the chart.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, SecretStr

from hatang.commands.settings import variables
from hatang.settings import Settings

CHART = Path(__file__).resolve().parents[2] / "helm" / "hatang"
SCENARIOS = sorted(path.name for path in (CHART / "ci").glob("*-values.yaml"))
# Chart.yaml's kubeVersion floor, and the newest schemas kubernetes-validate ships.
KUBE_VERSIONS = ("1.27", kubernetes_validate.utils.latest_version())
SECRET_VARS = {var for var, default, _ in variables(Settings) if default == "(secret)"} | {
    "HATANG_DATABASE_URL",
    "HATANG_MQTT_URL",
}
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "Job"}


def scenario(name: str) -> dict[str, Any]:
    """The values of ``ci/<name>``."""
    values: dict[str, Any] = yaml.safe_load((CHART / "ci" / name).read_text())
    return values


def render(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every manifest the chart renders for ``values`` (NOTES.txt left out)."""
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(values, name="city", namespace="hatang", is_install=True)
    docs: list[dict[str, Any]] = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The containers of a workload manifest."""
    yield from doc["spec"]["template"]["spec"]["containers"]


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The manifests of one kind."""
    return [doc for doc in docs if doc["kind"] == kind]


@pytest.fixture(scope="module", params=SCENARIOS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    """(scenario file, its rendered manifests)."""
    name: str = request.param
    return name, render(scenario(name))


def test_there_is_a_default_and_a_production_scenario() -> None:
    assert {"default-values.yaml", "production-values.yaml"} <= set(SCENARIOS)


@pytest.mark.parametrize("name", SCENARIOS)
def test_lint_is_clean_in_strict_mode(name: str) -> None:
    report = helm.lint(CHART, scenario(name), strict=True, namespace="hatang", kube_version="v1.27.0")
    problems = [message for message in report["messages"] if message["severity"] >= 2]
    assert (report["errors"], problems) == ([], [])


def test_manifests_validate_against_kubernetes_schemas(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = rendered
    failures = []
    for doc in docs:
        if doc["kind"] in {"ServiceMonitor", "PrometheusRule"}:  # operator CRDs: checked by their own tests
            continue
        for version in KUBE_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                where = f"{name} {doc['kind']}/{doc['metadata']['name']} k8s {version}"
                failures.append(f"{where}: {exc.message}")
    assert failures == []


def test_service_monitors_scrape_named_ports_of_the_chart_services(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    services = by_kind(rendered[1], "Service")
    for monitor in by_kind(rendered[1], "ServiceMonitor"):
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        selector = monitor["spec"]["selector"]["matchLabels"]
        matched = [s for s in services if selector.items() <= s["metadata"]["labels"].items()]
        assert len(matched) == 1, monitor["metadata"]["name"]
        ports = {port["name"] for port in matched[0]["spec"]["ports"]}
        assert {endpoint["port"] for endpoint in monitor["spec"]["endpoints"]} <= ports
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["hatang"]}


def test_production_renders_every_part() -> None:
    docs = render(scenario("production-values.yaml"))
    kinds = {(doc["kind"], doc["metadata"]["name"]) for doc in docs}
    assert {
        ("Deployment", "city-hatang-api"),
        ("StatefulSet", "city-hatang-ingest"),
        ("HorizontalPodAutoscaler", "city-hatang-ingest"),
        ("HorizontalPodAutoscaler", "city-hatang-api"),
        ("Ingress", "city-hatang-api"),
        ("Job", "city-hatang-migrate"),
        ("PodDisruptionBudget", "city-hatang-api"),
        ("PodDisruptionBudget", "city-hatang-ingest"),
        ("NetworkPolicy", "city-hatang"),
        ("ServiceMonitor", "city-hatang-api"),
        ("ServiceMonitor", "city-hatang-ingest"),
        ("Deployment", "city-hatang-alerts"),
        ("ServiceMonitor", "city-hatang-alerts"),
        ("ConfigMap", "city-hatang-dashboard"),
    } <= kinds
    # Production takes every secret from an existing Secret.
    assert not any(kind == "Secret" for kind, _ in kinds)
    ingress = by_kind(docs, "Ingress")[0]
    assert ingress["spec"]["tls"][0]["hosts"] == [rule["host"] for rule in ingress["spec"]["rules"]]


def test_every_pod_runs_unprivileged(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    for doc in (doc for doc in rendered[1] if doc["kind"] in WORKLOAD_KINDS):
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        for container in containers(doc):
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_secret_settings_come_only_from_a_secret(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    for config in by_kind(docs, "ConfigMap"):
        assert not SECRET_VARS & set(config.get("data", {}))
    for doc in (doc for doc in docs if doc["kind"] in WORKLOAD_KINDS):
        for container in containers(doc):
            env = {item["name"]: item for item in container.get("env", [])}
            for var in SECRET_VARS:
                assert set(env[var]) == {"name", "valueFrom"}, f"{doc['metadata']['name']}: {var}"
                assert "secretKeyRef" in env[var]["valueFrom"]


def test_every_variable_the_chart_sets_is_a_real_setting(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    known = {var for var, _, _ in variables(Settings)}
    used: set[str] = set()
    for config in by_kind(rendered[1], "ConfigMap"):
        used |= {key for key in config.get("data", {}) if key.startswith("HATANG_")}
    for doc in (doc for doc in rendered[1] if doc["kind"] in WORKLOAD_KINDS):
        for container in containers(doc):
            used |= {item["name"] for item in container.get("env", []) if item["name"].startswith("HATANG_")}
    assert used - known == set()


def _settings_values(model: type[BaseModel], instance: BaseModel) -> dict[str, Any]:
    """Every non-secret field of ``instance`` as the chart's nested ``settings`` map."""
    values: dict[str, Any] = {}
    for name in model.model_fields:
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            values[name] = _settings_values(type(value), value)
        elif value is not None and not isinstance(value, SecretStr):
            values[name] = value if isinstance(value, str | int | float | bool | list) else str(value)
    return values


def test_every_setting_round_trips_through_the_configmap(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("HATANG_"):
            monkeypatch.delenv(var)
    defaults = Settings()
    values = scenario("default-values.yaml") | {"settings": _settings_values(Settings, defaults)}
    config = next(doc for doc in render(values) if doc["kind"] == "ConfigMap")
    for var, value in config["data"].items():
        monkeypatch.setenv(var, value)
    assert Settings() == defaults
    expected = {var for var, default, _ in variables(Settings) if default not in {"(unset)", "(secret)"}}
    assert set(config["data"]) == expected


def test_bare_defaults_refuse_to_render_without_a_secret() -> None:
    with pytest.raises(helm.HelmRenderError, match="ships no default password"):
        render(None)


def test_ingest_autoscaling_is_refused_with_mosquitto() -> None:
    values = scenario("default-values.yaml") | {
        "mqtt": {"kind": "mosquitto", "port": 1883, "tls": {"enabled": False}},
        "ingest": {"autoscaling": {"enabled": True}},
    }
    with pytest.raises(helm.HelmRenderError, match="mosquitto issue #2662"):
        render(values)


def test_ingest_replicas_take_their_client_id_from_the_pod_name() -> None:
    statefulset = next(doc for doc in render(scenario("default-values.yaml")) if doc["kind"] == "StatefulSet")
    env = {item["name"]: item for item in next(containers(statefulset))["env"]}
    assert env["HATANG_INGEST__CLIENT_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


def _configmap(docs: list[dict[str, Any]]) -> dict[str, str]:
    config = next(doc for doc in by_kind(docs, "ConfigMap") if doc["metadata"]["name"] == "city-hatang")
    data: dict[str, str] = config["data"]
    return data


def test_devices_publish_unmounted_on_emqx_and_under_the_mount_on_mosquitto() -> None:
    """EMQX has no mount point (its ACL denies a device's subscriptions), so ingest reads devices'
    topics unprefixed there; on Mosquitto the setting's default, the device listener's mount, stays."""
    emqx = _configmap(render(scenario("production-values.yaml")))
    assert emqx["HATANG_DEVICE_MOUNT"] == ""
    assert Settings(device_mount=emqx["HATANG_DEVICE_MOUNT"]).device_mount == ""
    mosquitto = _configmap(render(scenario("trial-values.yaml")))
    assert "HATANG_DEVICE_MOUNT" not in mosquitto  # Settings' default: ingress/
    told = scenario("production-values.yaml")
    told["settings"] = told["settings"] | {"device_mount": "edge/"}
    assert _configmap(render(told))["HATANG_DEVICE_MOUNT"] == "edge/"


@pytest.mark.parametrize("name", ["trial-values.yaml", "production-values.yaml"])
def test_each_role_logs_in_to_the_broker_with_its_own_account(name: str) -> None:
    """One broker account per role (docs/security.md): ingest's is the Secret's HATANG_MQTT_URL, the
    API, the alert evaluator and the simulator override it with theirs."""
    values = scenario(name)
    roles = {"api": "mqtt-url-api", "alerts": "mqtt-url-api", "simulator": "mqtt-url-simulator"}
    overridden = 0
    for section, key in roles.items():
        for item in values.get(section, {}).get("extraEnv", []):
            if item["name"] == "HATANG_MQTT_URL":
                overridden += 1
                assert item["valueFrom"]["secretKeyRef"]["key"] == key, section
    assert overridden >= 2
    if name == "trial-values.yaml":
        assert overridden == 3
    text = (CHART / "ci" / name).read_text()
    assert "hatang-service" not in text
    docs = render(values)
    names = {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] in WORKLOAD_KINDS}
    api = next(doc for key, doc in names.items() if key.endswith("-api"))
    env = [item for item in next(containers(api))["env"] if item["name"] == "HATANG_MQTT_URL"]
    assert len(env) == 2  # the Secret's, then the API's own: the last one wins
    assert env[1] == values["api"]["extraEnv"][0]


@pytest.mark.parametrize(
    ("override", "offending"),
    [
        ({"settings": {"database_url": "postgresql://u:p@h/db"}}, "settings"),
        ({"mqtt": {"kind": "hivemq", "port": 1883, "tls": {"enabled": False}}}, "kind"),
        ({"replicas": 3}, "replicas"),
        ({"api": {"enabled": True, "replicaCount": -1, "port": 8080}}, "replicaCount"),
        ({"database": {"port": 5432, "cidrs": ["not-a-cidr"]}}, "cidrs"),
    ],
)
def test_schema_rejects_bad_values(override: dict[str, Any], offending: str) -> None:
    with helm.Chart.load(CHART) as chart, pytest.raises(helm.HelmValuesError, match=offending):
        chart.validate_schema(chart.merge_values(scenario("default-values.yaml") | override))
