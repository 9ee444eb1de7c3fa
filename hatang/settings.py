"""The one typed settings object of every hatang process.

Built once at a composition root (``Settings()``) and passed down; no other module reads the
environment. Every variable is ``HATANG_`` + the field name; nested sections use ``__``
(``HATANG_INGEST__BATCH_SIZE``). The README lists them all; keep that table in step.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StackSettings(BaseModel):
    """The project's own local PostgreSQL and Mosquitto (used when no external URL is set)."""

    data_dir: Path = Field(default=Path(".data"), description="Where the local stack keeps its data.")
    pg_port: int = Field(default=55432, ge=1, le=65535, description="Port of the local PostgreSQL.")
    mqtt_port: int = Field(
        default=51883, ge=1, le=65535, description="Port of the local Mosquitto's device listener."
    )
    mqtt_service_port: int = Field(
        default=51884, ge=1, le=65535,
        description="Port of the local Mosquitto's service listener (the platform's own accounts only).",
    )
    pg_version: str | None = Field(default=None, description="PostgreSQL major version; newest if unset.")
    mosquitto: Path | None = Field(
        default=None,
        description="The local Mosquitto's binary; unset: /usr/local/sbin/mosquitto (the patched build "
        "scripts/setup.sh installs), else mosquitto on PATH or /usr/sbin/mosquitto.",
    )


class ContractsSettings(BaseModel):
    """Limits the normaliser applies to every message."""

    max_age_s: float = Field(
        default=7 * 24 * 3600, gt=0, description="Oldest reading accepted (late data buffered offline)."
    )
    max_future_s: float = Field(default=300, ge=0, description="Furthest a reading may lie in the future.")
    max_payload_bytes: int = Field(default=65536, gt=0, description="Largest payload accepted.")


class ApiSettings(BaseModel):
    """The REST API process (``hatang api``)."""

    host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port the API listens on.")
    pool_min: int = Field(default=1, ge=0, description="Database connections the API keeps open.")
    pool_max: int = Field(default=10, ge=1, description="Most database connections the API opens.")
    page_limit: int = Field(default=50, ge=1, description="Items per page when a request names no limit.")
    max_page_limit: int = Field(default=500, ge=1, description="Largest page a request may ask for.")
    read_timeout_s: float = Field(
        default=3.0, gt=0,
        description="Wait for a read-replica connection before answering 503 (HATANG_DATABASE_READ_URL).",
    )
    bulk_max_bytes: int = Field(
        default=256 * 1024 * 1024, gt=0, description="Largest bulk-onboarding upload accepted, in bytes."
    )
    max_json_bytes: int = Field(
        default=1024 * 1024, gt=0,
        description="Largest JSON request body accepted, in bytes (413 beyond; checked after the key).",
    )


class RegistrySettings(BaseModel):
    """Device registry: bulk onboarding and the broker's credential files."""

    bulk_chunk_rows: int = Field(default=5000, ge=1, description="Rows hashed and copied per bulk chunk.")
    hash_threads: int = Field(default=2, ge=1, description="Threads hashing MQTT secrets in bulk.")
    broker_debounce_s: float = Field(
        default=0.2, ge=0, description="`broker sync --watch`: delay after a change before rendering."
    )
    mosquitto_dir: Path | None = Field(
        default=None,
        description="`broker sync`: directory of a Mosquitto hatang does not start (passwd, acl, "
        "passwd-services, acl-services, mosquitto.pid, service-<role>.secret); unset: the local stack's.",
    )


class ReadinessSettings(BaseModel):
    """IoT readiness (docs/readiness.md): what "ready" means and when snapshots are taken."""

    freshness_window_h: float = Field(
        default=24, gt=0, description="An asset is ready if a fitting active device reported within this."
    )
    timezone: str = Field(
        default="Asia/Ho_Chi_Minh", description="Time zone whose calendar days snapshots use."
    )
    snapshot_interval_s: float = Field(
        default=3600, gt=0, description="How often the snapshot job refreshes today's readiness snapshot."
    )
    pace_window_days: int = Field(
        default=30, ge=2, description="Days of snapshots the projection's pace is fitted over."
    )
    live_cache_s: float = Field(
        default=15, ge=0,
        description="An API process reuses a scope's live readiness counts this long (0: every request).",
    )
    zone_latency_bound_s: float = Field(
        default=1.0, gt=0,
        description="A zone is low-latency ready when that quantile of delivery latency is at most this (s).",
    )
    zone_latency_quantile: Decimal = Field(
        default=Decimal("0.95"), gt=0, le=1, max_digits=5, decimal_places=4,
        description="The quantile of delivery latency (reading time to commit) a zone is judged by.",
    )
    latency_retention_days: int = Field(
        default=8, ge=1, description="Per-device hourly latency histograms older than this are dropped.",
    )


class ReportSettings(BaseModel):
    """The yearly report (docs/readiness.md): how its PDF is printed."""

    chromium: str = Field(
        default="/usr/bin/chromium",
        description="The browser the report's PDF is printed with (never downloaded).",
    )


class OpenDataSettings(BaseModel):
    """The public read-only surface under /open/v1 (docs/open-data.md): off unless switched on."""

    enabled: bool = Field(
        default=False, description="Serve /open/v1 without an API key (read-only, aggregate)."
    )
    rate_limit: str = Field(
        default="120/minute", description="Requests one client address may make to /open/v1 (limits syntax)."
    )
    max_age_s: int = Field(default=300, ge=0, description="Cache-Control max-age of /open/v1 responses.")
    licence: str = Field(
        default="CC-BY-4.0", description="SPDX id of the licence the open data is published under."
    )
    attribution: str = Field(
        default="UBND tỉnh Bắc Ninh — hatang",
        description="Who to credit, stated in every /open/v1 response.",
    )
    max_features: int = Field(default=20000, gt=0, description="Most assets one GeoJSON page may hold.")


class IngestSettings(BaseModel):
    """The ingest worker: MQTT session, batching, backpressure and its metrics endpoint."""

    batch_size: int = Field(
        default=5000, gt=0,
        description="Readings per batch: a batch commits when it holds this many.",
    )
    flush_interval_ms: int = Field(
        default=200, gt=0,
        description="A non-empty batch commits at the latest this long after its first message.",
    )
    queue_bound: int = Field(
        default=20000, gt=0,
        description="Messages held in memory (received, not yet acknowledged) before reading pauses.",
    )
    receive_maximum: int = Field(
        default=20000, ge=1, le=65535,
        description="MQTT 5 Receive Maximum: unacknowledged messages the broker may send at once.",
    )
    group: str = Field(
        default="hatang-ingest", pattern=r"^[A-Za-z0-9_-]+$",
        description="Shared-subscription group ($share/<group>/...): workers of one group split the load.",
    )
    client_id: str | None = Field(
        default=None,
        description="MQTT client id, stable per replica (owns its session); unset: hatang-ingest-<host>.",
    )
    session_expiry_s: int = Field(
        default=7 * 24 * 3600, ge=0,
        description="How long the broker keeps the worker's session and queued messages while away.",
    )
    subscribe_timeout_s: float = Field(
        default=600.0, gt=0,
        description="Wait for SUBACK (it arrives behind a queued backlog).",
    )
    metrics_port: int = Field(
        default=9108, ge=0, le=65535,
        description="Port of /metrics, /healthz and /readyz (0: no endpoint).",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="Address the metrics endpoint listens on (0.0.0.0 in a container a scraper reaches).",
    )
    db_retry_initial_s: float = Field(
        default=0.2, gt=0,
        description="First wait before retrying a failed database write.",
    )
    db_retry_max_s: float = Field(
        default=5.0, gt=0,
        description="Longest wait between database retries (exponential backoff).",
    )
    drain_timeout_s: float = Field(
        default=15.0, gt=0,
        description="On SIGTERM: time allowed to commit and acknowledge what is held before exiting.",
    )
    dead_letter_budget: int = Field(
        default=100, ge=1,
        description="Dead letters one device may store per window; beyond it a sample (all are counted).",
    )
    dead_letter_window_s: float = Field(
        default=3600, gt=0, description="The window of the dead-letter budget."
    )
    dead_letter_sample: int = Field(
        default=100, ge=1,
        description="Beyond its budget, one in this many of a device's dead letters is stored.",
    )
    dead_letter_retention_days: int = Field(
        default=30, ge=1,
        description="Dead letters older than this are deleted (by `hatang timeseries maintain`).",
    )
    last_seen_granularity_s: float = Field(
        default=60.0, ge=0,
        description="device_seen.last_seen is written when it moved by this much (0: every batch).",
    )
    ready_stall_s: float = Field(
        default=60.0, gt=0,
        description="/readyz fails when messages are held and no batch has committed for this long.",
    )
    fanout: bool = Field(
        default=True,
        description="Republish each committed batch under <prefix>/normalized/<sector>/<area> (QoS 0).",
    )
    latency_flush_s: float = Field(
        default=300, gt=0,
        description="How often the per-device delivery-latency histograms are added to the database.",
    )


class TimeseriesSettings(BaseModel):
    """Time-series queries, rollups and retention (docs/dashboard.md)."""

    raw_retention_days: int = Field(
        default=90, ge=1, description="Raw readings older than this are dropped (whole one-day chunks)."
    )
    rollup_1m_retention_days: int = Field(
        default=400, ge=1, description="Per-minute rollups older than this are dropped."
    )
    rollup_1h_retention_days: int = Field(
        default=3650, ge=1, description="Per-hour rollups older than this are dropped."
    )
    refresh_interval_s: float = Field(
        default=30, gt=0, description="How often the maintenance job brings the rollups up to date."
    )
    retention_interval_s: float = Field(
        default=3600, gt=0, description="How often the maintenance job applies retention."
    )
    bucket_origin: str = Field(
        default="2000-01-03T00:00:00+07:00",
        description="Where aggregate buckets start (local midnight in Viet Nam); must be on a whole hour.",
    )
    max_aggregate_rows: int = Field(
        default=20000, ge=1, description="Most rows (groups x buckets) one aggregate request may return."
    )


class SchedulerSettings(BaseModel):
    """The scheduler role (``hatang scheduler``): one leader runs the periodic jobs."""

    name: str | None = Field(
        default=None, description="Name recorded with each job run; unset: <host>:<pid>."
    )
    poll_s: float = Field(
        default=5.0, gt=0,
        description="How often a standby tries to take the lead (and the leader checks jobs).",
    )
    metrics_port: int = Field(
        default=9110, ge=0, le=65535, description="Prometheus metrics port of the scheduler (0: none)."
    )


class StreamSettings(BaseModel):
    """Live reading streams of the API (WebSocket and Server-Sent Events)."""

    queue_size: int = Field(
        default=2000, ge=1, description="Readings held per stream client; the oldest are dropped beyond it."
    )
    heartbeat_s: float = Field(default=15, gt=0, description="Idle streams get a heartbeat this often.")
    max_clients: int = Field(
        default=1000, ge=1, description="Most concurrent stream clients per API process."
    )
    ticket_ttl_s: float = Field(
        default=30, gt=0, le=3600, description="How long a single-use stream ticket stays valid."
    )


class SimulatorSettings(BaseModel):
    """Simulated fleets (``hatang simulate``) and the small one ``make run`` keeps publishing."""

    fleet_file: Path = Field(
        default=Path(".data/simulators/fleet.json"),
        description="The simulated fleet's device credentials (written mode 0600).",
    )
    api_url: str | None = Field(
        default=None, description="Registry API the fleet is created through; unset: this host's API."
    )
    run_devices: int = Field(default=27, ge=0, description="`make run`: simulated devices (0: none).")
    run_rate: float = Field(default=9.0, gt=0, description="`make run`: messages per second they send.")


class AlertSettings(BaseModel):
    """The alert evaluator and notifier (``hatang alerts``; docs/alerts.md)."""

    metrics_port: int = Field(
        default=9109, ge=0, le=65535, description="Prometheus metrics port (0: no endpoint)."
    )
    catchup_interval_s: float = Field(
        default=30, gt=0,
        description="How often the evaluator catches up from latest_readings (the fan-out is QoS 0).",
    )
    silence_interval_s: float = Field(
        default=15, gt=0, description="How often silence rules are evaluated from device_seen.last_seen."
    )
    rate_interval_s: float = Field(
        default=60, gt=0, description="How often rejection-rate rules are evaluated from dead letters."
    )
    replay_max_s: float = Field(
        default=86400, gt=0, description="Longest span of readings replayed at start (the longest hold)."
    )
    retry_initial_s: float = Field(
        default=2.0, gt=0, description="First wait before retrying a failed notification delivery."
    )
    retry_max_s: float = Field(
        default=60.0, gt=0, description="Longest wait between notification retries (exponential back-off)."
    )
    webhook_timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one webhook request.")
    webhook_private: bool = Field(
        default=False, description="Accept webhook URLs naming loopback or private addresses (API check)."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for e-mail notifications; unset: e-mails wait in the outbox."
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_sender: str = Field(default="hatang@localhost", description="From address of alert e-mails.")
    smtp_username: str | None = Field(default=None, description="SMTP login; unset: none.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")


class ClientSettings(BaseModel):
    """The command line's calls to a running API (``hatang devices import``, ``hatang assets import``)."""

    api_url: str | None = Field(
        default=None, description="API the import commands call; unset: this host's (`HATANG_API__PORT`)."
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key the import commands send; unset: `hatang seed`'s demo admin key."
    )


class Settings(BaseSettings):
    """All settings of a hatang process."""

    model_config = SettingsConfigDict(
        env_prefix="HATANG_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    database_url: SecretStr | None = Field(
        default=None, description="PostgreSQL URL; unset means the local stack's own cluster."
    )
    database_read_url: SecretStr | None = Field(
        default=None,
        description="A read replica's URL: the API's read paths (readings, aggregates, latest, readiness) "
        "use it, writes never; unset: everything on HATANG_DATABASE_URL.",
    )
    mqtt_url: SecretStr | None = Field(
        default=None, description="MQTT broker URL (mqtt://user:pass@host:port); unset means the local stack."
    )
    topic_prefix: str = Field(default="city/v1", description="Prefix of every MQTT topic of the platform.")
    device_mount: str = Field(
        default="ingress/", pattern=r"^([A-Za-z0-9_-]+/)*$",
        description="Mount point of the broker's device listener: a device's <prefix>/... reaches the "
        "platform as <mount><prefix>/... (docs/security.md).",
    )
    stack: StackSettings = StackSettings()
    contracts: ContractsSettings = ContractsSettings()
    ingest: IngestSettings = IngestSettings()
    api: ApiSettings = ApiSettings()
    registry: RegistrySettings = RegistrySettings()
    readiness: ReadinessSettings = ReadinessSettings()
    report: ReportSettings = ReportSettings()
    open_data: OpenDataSettings = OpenDataSettings()
    timeseries: TimeseriesSettings = TimeseriesSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    streams: StreamSettings = StreamSettings()
    simulators: SimulatorSettings = SimulatorSettings()
    alerts: AlertSettings = AlertSettings()
    client: ClientSettings = ClientSettings()
