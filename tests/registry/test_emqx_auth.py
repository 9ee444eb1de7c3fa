"""Device logins and topic rights on EMQX 5, read from the registry (migration 0701, the chart's config).

EMQX cannot run here. What can be checked is checked against the real things: the configuration is
the chart's own rendering (parsed as HOCON); its SQL runs, as rendered, against the migrated
database; every credential the registry issues (one device, a rotation, a bulk upload) is verified
the way EMQX verifies it, with EMQX's documented ``pbkdf2`` check re-implemented below from RFC 8018
(not with ``hashlib.pbkdf2_hmac``, which the registry uses to make the hashes); the authorizer's rows
are evaluated with EMQX's first-match rule against allowed and refused publishes and subscriptions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pyhocon import ConfigFactory, ConfigTree

from tests.api.test_bulk import NDJSON, _lines, _ndjson
from tests.helm.test_chart import render, scenario
from tests.plugins.api import Keys

PREFIX = "city/v1"


def pbkdf2(mac: str, password: bytes, salt: bytes, iterations: int, dk_len: int) -> bytes:
    """PBKDF2 (RFC 8018, section 5.2) with HMAC-``mac`` as the pseudorandom function."""
    h_len = hashlib.new(mac).digest_size
    out = b""
    for block in range(1, -(-dk_len // h_len) + 1):
        u = hmac.new(password, salt + block.to_bytes(4, "big"), mac).digest()
        t = int.from_bytes(u, "big")
        for _ in range(iterations - 1):
            u = hmac.new(password, u, mac).digest()
            t ^= int.from_bytes(u, "big")
        out += t.to_bytes(h_len, "big")
    return out[:dk_len]


def test_pbkdf2_matches_the_rfc_6070_vector() -> None:
    # RFC 6070 (PBKDF2-HMAC-SHA1), so the re-implementation is checked before it checks anything.
    assert pbkdf2("sha1", b"password", b"salt", 2, 20).hex() == "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"


def emqx_check(algorithm: ConfigTree, row: dict[str, Any], password: str) -> bool:
    """EMQX 5's pbkdf2 check: lowercase hex of the derived key equals ``password_hash``."""
    assert algorithm["name"] == "pbkdf2"
    salt = bytes(row["salt"])
    derived = pbkdf2(
        algorithm["mac_fun"], password.encode(), salt, algorithm["iterations"], algorithm["dk_length"]
    )
    return hmac.compare_digest(derived.hex().encode(), row["password_hash"].encode())


def _sql(template: str) -> str:
    """An EMQX query template as a psycopg query (EMQX binds each ``${var}`` as a parameter too)."""
    return re.sub(r"\$\{(\w+)\}", r"%(\1)s", template)


@pytest.fixture(scope="module")
def emqx_conf() -> tuple[ConfigTree, str]:
    values = scenario("production-values.yaml")
    assert values["mqtt"]["emqxAuth"]["enabled"]
    cm = next(d for d in render(values) if d["metadata"]["name"] == "city-hatang-emqx-auth")
    # The role's password is a substitution from the EMQX pod's environment, never in the ConfigMap.
    assert "password = ${?HATANG_EMQX_DB_PASSWORD}" in cm["data"]["hatang-auth.conf"]
    conf = ConfigFactory.parse_string(cm["data"]["hatang-auth.conf"])
    return conf, cm["data"]["hatang-acl.conf"]


def _authn(conf: ConfigTree) -> ConfigTree:
    (pg,) = [a for a in conf["authentication"] if a["backend"] == "postgresql"]
    return pg


def _lookup(
    db: psycopg.Connection[Any], conf: ConfigTree, username: str, clientid: str
) -> dict[str, Any] | None:
    with db.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(_sql(_authn(conf)["query"]), {"username": username, "clientid": clientid})
        return cur.fetchone()


def _create(client: TestClient, keys: Keys, device: str, *, state: str = "active") -> str:
    body = {"external_id": device, "model": "sonde-wq6"}
    created = client.post("/v1/devices", json=body, headers=keys["operator_a"])
    assert created.status_code == 201, created.text
    if state != "provisioned":
        moved = client.post(f"/v1/devices/{device}/state", json={"state": state}, headers=keys["operator_a"])
        assert moved.status_code == 200, moved.text
    return str(created.json()["credentials"]["secret"])


def test_every_issued_credential_verifies_as_emqx_checks_it(
    emqx_conf: tuple[ConfigTree, str], api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    conf, _ = emqx_conf
    algorithm = _authn(conf)["password_hash_algorithm"]
    issued: dict[str, str] = {"wq-one": _create(api_client, keys, "wq-one")}
    # A rotation replaces the secret: the new one logs in, the old one no longer does.
    old = _create(api_client, keys, "wq-rot")
    rotated = api_client.post("/v1/devices/wq-rot/credentials", headers=keys["operator_a"])
    assert rotated.status_code == 200, rotated.text
    issued["wq-rot"] = rotated.json()["secret"]
    # A bulk upload (every other row active).
    headers = {**keys["operator_a"], **NDJSON}
    response = api_client.post("/v1/bulk/devices", content=_ndjson(300), headers=headers)
    assert response.status_code == 200, response.text[:300]
    _, rows = _lines(response)
    bulk = {r["external_id"]: r["mqtt_secret"] for r in rows if r["status"] == "created"}
    assert len(bulk) == 300
    found = api_db.execute("SELECT external_id FROM devices WHERE state = 'active'").fetchall()
    active = {d for (d,) in found}
    issued |= {d: s for d, s in bulk.items() if d in active}
    assert len(issued) == 2 + 150

    for device, secret in issued.items():
        row = _lookup(api_db, conf, device, device)
        assert row is not None, device
        assert row["is_superuser"] is False
        assert emqx_check(algorithm, row, secret), device
        assert not emqx_check(algorithm, row, secret + "x"), device
    assert not emqx_check(algorithm, _lookup(api_db, conf, "wq-rot", "wq-rot") or {}, old)
    # The client id is bound to the device: any other finds no row (and the next authenticator,
    # the service accounts' built-in database, does not know the device).
    assert _lookup(api_db, conf, "wq-one", "hatang-ingest-0") is None
    # Devices that may not connect have no row: provisioned (bulk), suspended, unknown.
    provisioned = next(d for d in bulk if d not in active)
    assert _lookup(api_db, conf, provisioned, provisioned) is None
    suspend = {"state": "suspended"}
    moved = api_client.post("/v1/devices/wq-one/state", json=suspend, headers=keys["operator_a"])
    assert moved.status_code == 200
    assert _lookup(api_db, conf, "wq-one", "wq-one") is None
    assert _lookup(api_db, conf, "hatang-ingest", "hatang-ingest") is None


def _match(rule: str, topic: str) -> bool:
    """EMQX's topic-filter match of a rule's filter against a request's topic (or filter)."""
    r_levels, t_levels = rule.split("/"), topic.split("/")
    for i, level in enumerate(r_levels):
        if level == "#":
            return not t_levels[0].startswith("$") or i > 0
        if i >= len(t_levels) or (level != "+" and level != t_levels[i]):
            return False
    return len(r_levels) == len(t_levels)


def _authorise(rules: list[tuple[str, str, str]], action: str, topic: str) -> str | None:
    """EMQX's first-match evaluation of one source's rules; None: no match (next source)."""
    for permission, rule_action, rule_topic in rules:
        if rule_action in (action, "all") and _match(rule_topic, topic):
            return permission
    return None


def _acl_file(text: str) -> list[tuple[str, str, str, list[str]]]:
    """The rendered acl.conf's user rules as (permission, username, action, topics)."""
    rules = []
    for m in re.finditer(r'\{(allow|deny), \{username, "([^"]+)"\}, (\w+), \[([^\]]*)\]\}\.', text):
        rules.append((m[1], m[2], m[3], re.findall(r'"([^"]+)"', m[4])))
    return rules


def _file_source(text: str, username: str, action: str, topic: str) -> str | None:
    for permission, user, rule_action, topics in _acl_file(text):
        if user == username and rule_action in (action, "all") and any(_match(t, topic) for t in topics):
            return permission
    return "deny" if "{deny, all}." in text else None


def test_the_authoriser_lets_a_device_publish_only_its_own_telemetry(
    emqx_conf: tuple[ConfigTree, str], api_client: TestClient, keys: Keys, api_db: psycopg.Connection[Any]
) -> None:
    conf, acl = emqx_conf
    (pg,) = [s for s in conf["authorization"]["sources"] if s["type"] == "postgresql"]
    assert [s["type"] for s in conf["authorization"]["sources"]] == ["postgresql", "file"]
    assert conf["authorization"]["no_match"] == "deny"
    for device in ("wq-a", "wq-b"):
        _create(api_client, keys, device)
    _create(api_client, keys, "wq-new", state="provisioned")

    def rules(username: str) -> list[tuple[str, str, str]]:
        got = api_db.execute(_sql(pg["query"]), {"username": username}).fetchall()
        return [(r[0], r[1], r[2]) for r in got]

    def decide(username: str, action: str, topic: str) -> str:
        own = _authorise(rules(username), action, topic)
        if own is not None:
            return own
        by_file = _file_source(acl, username, action, topic)
        return by_file or conf["authorization"]["no_match"]

    own = f"{PREFIX}/devices/wq-a/telemetry"
    assert rules("wq-a") == [("allow", "publish", own), ("deny", "all", "#")]
    assert decide("wq-a", "publish", own) == "allow"
    refused = [
        ("publish", f"{PREFIX}/devices/wq-b/telemetry"),  # another device's topic
        ("publish", f"{PREFIX}/devices/wq-a/status"),  # its own, but not telemetry
        ("publish", f"{PREFIX}/normalized/water/bn"),  # the fan-out
        ("subscribe", own),  # devices subscribe to nothing ...
        ("subscribe", f"$share/hatang-ingest/{PREFIX}/devices/+/telemetry"),  # ... not ingest's share
        ("subscribe", "#"),
    ]
    for action, topic in refused:
        assert decide("wq-a", action, topic) == "deny", (action, topic)
    # A device that may not connect may do nothing at all.
    assert rules("wq-new") == [("deny", "all", "#")]
    assert decide("wq-new", "publish", f"{PREFIX}/devices/wq-new/telemetry") == "deny"
    # A name that is no device gets no rows: the file source decides, for the service accounts only.
    assert rules("hatang-ingest") == []
    shared = f"$share/hatang-ingest/{PREFIX}/devices/+/telemetry"
    assert decide("hatang-ingest", "subscribe", shared) == "allow"
    assert decide("hatang-ingest", "publish", f"{PREFIX}/normalized/water/bn") == "allow"
    assert decide("hatang-api", "subscribe", f"{PREFIX}/normalized/#") == "allow"
    assert decide("hatang-api", "publish", own) == "deny"
    assert decide("someone-else", "subscribe", "#") == "deny"
