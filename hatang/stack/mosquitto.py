"""The project's own Mosquitto broker: configuration, credentials files, start, stop, reload.

Persistence is on so queued QoS 1 messages of persistent sessions survive a restart, and the
queue and in-flight limits are raised far above Mosquitto's defaults (see ``_LIMITS``).

Two listeners, each with its own password and ACL file (``per_listener_settings``), keep devices and
the platform apart (docs/security.md):
- the **device listener** (``port``): only devices' credentials, rendered from the registry; the
  client id is forced to the username (``use_username_as_clientid``), so a device can only ever own
  its own session; everything a device names lives under the listener's ``mount_point``, so its
  subscriptions (``$share/...`` included) can never join the platform's shared subscriptions; each
  device may publish to its own telemetry topic only.
- the **service listener** (``service_port``, loopback): only the platform's accounts, one per role
  (``hatang-ingest``, ``hatang-api``, ``hatang-simulator``), each with the rights it needs; their
  secrets live in the data directory (``service-<role>.secret``, mode 0600).

The broker is the one scripts/setup.sh builds (``BUILT_BROKER``: Debian 13's 2.0.21 with the
session-expiry patch, docs/security.md finding 0), else ``mosquitto`` on PATH or Debian's
``/usr/sbin/mosquitto``; ``binary`` (``HATANG_STACK__MOSQUITTO``) names another.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from hatang.stack._proc import StackError, is_root, port_open, run_as, wait_for_port, which
from registry import (
    SERVICE_ROLES,
    BrokerUser,
    hash_password,
    is_reserved,
    render_device_acl,
    render_password_file,
    render_service_acl,
    service_user,
)

# Why each limit (Mosquitto 2.0 defaults in brackets):
# - max_inflight_messages [20]: ingest acknowledges a message only after the batch holding it has
#   committed, so the broker must let a whole batch (thousands of messages) be in flight to one client.
#   It is also the Receive Maximum the broker announces to MQTT 5 publishers.
# - max_queued_messages [1000] / max_queued_bytes [0]: while ingest is down or the database is slow,
#   its persistent session queues messages here instead of dropping them: 2,000,000 messages is about
#   400 s of 5,000 msg/s, a few hundred MB of broker memory.
# - max_packet_size: larger packets are refused by the broker before they reach ingest; payloads
#   between the contracts' own limit (64 KiB) and this one still reach ingest and become dead letters.
# - autosave_interval: persisted state is written every 10 s and on a clean shutdown.
_LIMITS = {
    "max_inflight_messages": "20000",
    "max_queued_messages": "2000000",
    "max_queued_bytes": "0",
    "max_packet_size": "1048576",
    "autosave_interval": "10",
    "set_tcp_nodelay": "true",
}

#: Where scripts/setup.sh installs the broker it builds.
BUILT_BROKER = Path("/usr/local/sbin/mosquitto")


@dataclass(frozen=True, slots=True)
class LocalMosquitto:
    """A Mosquitto broker with its files in ``data_dir``: devices on 127.0.0.1:``port``, the platform's
    own accounts on 127.0.0.1:``service_port``."""

    data_dir: Path
    port: int
    service_port: int
    topic_prefix: str = "city/v1"
    device_mount: str = "ingress/"
    #: Further topic prefixes the ACLs grant (MQTT wildcards allowed): each benchmark run's own, and
    #: the test suite's per-test ones.
    extra_prefixes: tuple[str, ...] = ("bench/+/city/v1",)
    #: The broker's executable; unset: ``BUILT_BROKER``, else ``mosquitto`` on PATH or in /usr/sbin.
    binary: Path | None = None

    @property
    def executable(self) -> str:
        """The Mosquitto binary this broker runs."""
        if self.binary is not None:
            return str(self.binary)
        return which("mosquitto", BUILT_BROKER.parent, Path("/usr/sbin"))

    @property
    def conf(self) -> Path:
        """The broker's configuration file."""
        return self.data_dir / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        """The password file the registry renders."""
        return self.data_dir / "passwd"

    @property
    def acl_file(self) -> Path:
        """The device listener's ACL file."""
        return self.data_dir / "acl"

    @property
    def service_password_file(self) -> Path:
        """The service listener's password file (the platform's own accounts)."""
        return self.data_dir / "passwd-services"

    @property
    def service_acl_file(self) -> Path:
        """The service listener's ACL file."""
        return self.data_dir / "acl-services"

    @property
    def topic_prefixes(self) -> tuple[str, ...]:
        """Every prefix the ACLs grant."""
        return (self.topic_prefix, *self.extra_prefixes)

    @property
    def pid_file(self) -> Path:
        """Where the daemon writes its pid."""
        return self.data_dir / "mosquitto.pid"

    @property
    def log_file(self) -> Path:
        """The broker's log."""
        return self.data_dir / "mosquitto.log"

    def service_secret(self, role: str) -> str:
        """The secret of the service account of ``role``, created on first use (file mode 0600)."""
        service_user(role)  # refuses an unknown role
        path = self.data_dir / f"service-{role}.secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def url(self, role: str) -> str:
        """The MQTT URL of the service account of ``role`` (on the service listener)."""
        return f"mqtt://{service_user(role)}:{self.service_secret(role)}@127.0.0.1:{self.service_port}"

    @property
    def device_url(self) -> str:
        """Where devices connect (no credentials: each device brings its own)."""
        return f"mqtt://127.0.0.1:{self.port}"

    def init(self) -> None:
        """Write the configuration and, when absent, credentials holding only the service account."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Written by hatang stack; edits are overwritten.\n",
            "per_listener_settings true\n",
            "persistence true\n",
            f"persistence_location {self.data_dir}/\n",
            f"pid_file {self.pid_file}\n",
            f"log_dest file {self.log_file}\n",
            "log_type error\nlog_type warning\nlog_type notice\n",
            # Connections, and refused ones ("... disconnected, not authorised"), reach the log.
            "connection_messages true\n",
            *(f"{key} {value}\n" for key, value in _LIMITS.items()),
            "\n# Devices: their own credentials, client id = username, everything under the mount point.\n",
            f"listener {self.port} 127.0.0.1\n",
            "allow_anonymous false\n",
            "use_username_as_clientid true\n",
            *([f"mount_point {self.device_mount}\n"] if self.device_mount else []),
            f"password_file {self.password_file}\n",
            f"acl_file {self.acl_file}\n",
            "\n# The platform's own accounts, one per role.\n",
            f"listener {self.service_port} 127.0.0.1\n",
            "allow_anonymous false\n",
            f"password_file {self.service_password_file}\n",
            f"acl_file {self.service_acl_file}\n",
        ]
        if is_root():
            # Started as root Mosquitto would switch to the `mosquitto` user, which cannot write here.
            lines.append("user root\n")
        self.conf.write_text("".join(lines))
        if not (self.password_file.exists() and self.service_password_file.exists()):
            self.write_credentials([])

    def write_credentials(self, devices: Iterable[BrokerUser]) -> None:
        """Render both listeners' password and ACL files (the service accounts; ``devices``, less any
        in the reserved namespace); reload the broker if it runs."""
        services = [
            BrokerUser(service_user(role), hash_password(self.service_secret(role))) for role in SERVICE_ROLES
        ]
        prefixes, mount = self.topic_prefixes, self.device_mount
        _atomic_write(self.service_password_file, render_password_file([], services=services))
        _atomic_write(self.service_acl_file, render_service_acl(topic_prefixes=prefixes, mount=mount))
        _atomic_write(
            self.password_file,
            render_password_file(device for device in devices if not is_reserved(device.username)),
        )
        _atomic_write(self.acl_file, render_device_acl(topic_prefixes=prefixes, mount=mount))
        self.reload()

    def pid(self) -> int | None:
        """The running daemon's process id (from its pid file), or None."""
        try:
            pid = int(self.pid_file.read_text().strip())
            os.kill(pid, 0)
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None
        return pid

    def running(self) -> bool:
        """Whether this broker runs (by its pid file and ports)."""
        return self.pid() is not None and port_open(self.port) and port_open(self.service_port)

    def start(self) -> bool:
        """Start the broker as a daemon unless it runs; returns whether it was started now."""
        if self.running():
            return False
        for port, variable in ((self.port, "MQTT_PORT"), (self.service_port, "MQTT_SERVICE_PORT")):
            if port_open(port):
                raise StackError(f"port {port} is taken by another program: set HATANG_STACK__{variable}")
        self.init()
        run_as(None, [self.executable, "-c", str(self.conf), "-d"])
        wait_for_port(self.port, timeout=15, what="Mosquitto", log=self.log_file)
        wait_for_port(self.service_port, timeout=15, what="Mosquitto", log=self.log_file)
        return True

    def stop(self, *, sig: signal.Signals = signal.SIGTERM) -> bool:
        """Stop the broker (SIGTERM saves persistence first); returns whether it was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, sig)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.pid() is not None:
            time.sleep(0.05)
        return True

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files (nothing when it does not run)."""
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signal.SIGHUP)

    def server_version(self) -> str:
        """Mosquitto's version string."""
        out = run_as(None, [self.executable, "-h"], check=False).stdout
        match = re.search(r"mosquitto version (\S+)", out)
        return match.group(1) if match else "unknown"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)
