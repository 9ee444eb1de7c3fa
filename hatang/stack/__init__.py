"""The local stack: the project's own PostgreSQL+TimescaleDB and Mosquitto, or the external ones.

``Stack.from_settings`` decides per service: when ``HATANG_DATABASE_URL`` / ``HATANG_MQTT_URL`` are
set those services are external and nothing is started for them; otherwise the project's own
instances live under ``HATANG_STACK__DATA_DIR`` on their own ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from hatang.db import timescale_info
from hatang.settings import Settings
from hatang.stack._proc import StackError, free_port
from hatang.stack.mosquitto import LocalMosquitto
from hatang.stack.postgres import LocalPostgres, cluster_dir
from registry import SERVICE_ROLES

__all__ = ["SERVICE_ROLES", "LocalMosquitto", "LocalPostgres", "Stack", "StackError", "free_port"]


@dataclass(frozen=True, slots=True)
class Stack:
    """The services a hatang process talks to; ``postgres``/``mosquitto`` are None when external.

    Each process connects to the broker with its own role's account (``mqtt_url(role)``: ``ingest``,
    ``api``, ``simulator``); an external broker (``HATANG_MQTT_URL``) is given one URL per process.
    """

    database_url: str
    mqtt_urls: dict[str, str]
    postgres: LocalPostgres | None
    mosquitto: LocalMosquitto | None

    def mqtt_url(self, role: str) -> str:
        """The MQTT URL the process of ``role`` connects with."""
        return self.mqtt_urls[role]

    @property
    def device_url(self) -> str:
        """Where devices connect: the local device listener, or the external broker's address."""
        if self.mosquitto is not None:
            return self.mosquitto.device_url
        scheme, _, rest = self.mqtt_urls["simulator"].partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}"

    @classmethod
    def from_settings(cls, settings: Settings) -> Stack:
        """Resolve the services named by ``settings``."""
        data = settings.stack.data_dir.resolve()
        postgres = mosquitto = None
        if settings.database_url is not None:
            database_url = settings.database_url.get_secret_value()
        else:
            postgres = LocalPostgres(
                data_dir=cluster_dir(data / "pg" / "data"),
                port=settings.stack.pg_port,
                version=settings.stack.pg_version,
            )
            database_url = postgres.url
        if settings.mqtt_url is not None:
            mqtt_urls = dict.fromkeys(SERVICE_ROLES, settings.mqtt_url.get_secret_value())
        else:
            mosquitto = LocalMosquitto(
                data_dir=data / "mqtt", port=settings.stack.mqtt_port,
                service_port=settings.stack.mqtt_service_port, topic_prefix=settings.topic_prefix,
                device_mount=settings.device_mount, binary=settings.stack.mosquitto,
            )  # fmt: skip
            mqtt_urls = {role: mosquitto.url(role) for role in SERVICE_ROLES}
        return cls(database_url=database_url, mqtt_urls=mqtt_urls, postgres=postgres, mosquitto=mosquitto)

    @classmethod
    def local(
        cls, data_dir: Path, *, pg_port: int, mqtt_port: int, mqtt_service_port: int, durable: bool = True,
        extra_prefixes: tuple[str, ...] = ("bench/+/city/v1",), mosquitto_binary: Path | None = None,
    ) -> Stack:  # fmt: skip
        """A fully local stack in ``data_dir`` (the test suite's own, for one)."""
        postgres = LocalPostgres(
            data_dir=cluster_dir(data_dir / "pg" / "data"), port=pg_port, durable=durable
        )
        mosquitto = LocalMosquitto(
            data_dir=data_dir / "mqtt", port=mqtt_port, service_port=mqtt_service_port,
            extra_prefixes=extra_prefixes, binary=mosquitto_binary,
        )  # fmt: skip
        mqtt_urls = {role: mosquitto.url(role) for role in SERVICE_ROLES}
        return cls(database_url=postgres.url, mqtt_urls=mqtt_urls, postgres=postgres, mosquitto=mosquitto)

    def up(self) -> list[str]:
        """Start whatever local service is not running; returns the names of those started now."""
        started = []
        if self.postgres is not None:
            self.postgres.init()
            if self.postgres.start():
                started.append("postgresql")
            self.postgres.ensure_database()
        if self.mosquitto is not None:
            self.mosquitto.init()
            if self.mosquitto.start():
                started.append("mosquitto")
        return started

    def down(self, only: list[str] | None = None) -> list[str]:
        """Stop local services (all, or those named in ``only``); returns those that were running."""
        stopped = []
        if self.mosquitto is not None and (only is None or "mosquitto" in only) and self.mosquitto.stop():
            stopped.append("mosquitto")
        if self.postgres is not None and (only is None or "postgresql" in only) and self.postgres.stop():
            stopped.append("postgresql")
        return stopped

    def status(self) -> dict[str, Any]:
        """What runs where: versions, edition and URLs (secrets masked)."""
        report: dict[str, Any] = {
            "database_url": _mask(self.database_url),
            "mqtt_urls": {role: _mask(url) for role, url in self.mqtt_urls.items()},
            "device_url": self.device_url,
            "postgresql": {"managed": self.postgres is not None},
            "mosquitto": {"managed": self.mosquitto is not None},
        }
        pg = report["postgresql"]
        if self.postgres is not None:
            pg["running"] = self.postgres.running()
            pg["data_dir"] = str(self.postgres.data_dir)
        try:
            with psycopg.connect(self.database_url, connect_timeout=3) as conn:
                pg["version"] = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
                info = timescale_info(conn)
                report["timescaledb"] = {
                    "available": info.available,
                    "installed": info.installed,
                    "version": info.version,
                    "edition": info.edition,
                    "license": info.license,
                }
        except psycopg.Error as exc:
            pg["error"] = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        mq = report["mosquitto"]
        if self.mosquitto is not None:
            mq["running"] = self.mosquitto.running()
            mq["version"] = self.mosquitto.server_version()
            mq["data_dir"] = str(self.mosquitto.data_dir)
        return report


def _mask(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}{':***' if ':' in creds else ''}@{host}"
