"""The project's own Mosquitto broker: configuration, credentials files, start, stop, reload.

Persistence is on so queued QoS 1 messages of persistent sessions survive a restart, and the
queue and in-flight limits are raised far above Mosquitto's defaults (see ``_LIMITS``). Devices
authenticate against a password file the registry renders from its database; the platform's own
processes use one service account whose secret lives in the data directory.
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
from registry import BrokerUser, hash_password, render_acl_file, render_password_file

SERVICE_USER = "hatang-service"

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


@dataclass(frozen=True, slots=True)
class LocalMosquitto:
    """A Mosquitto broker with its files in ``data_dir``, listening on 127.0.0.1:``port``."""

    data_dir: Path
    port: int
    topic_prefix: str = "city/v1"

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
        """The ACL file the registry renders."""
        return self.data_dir / "acl"

    @property
    def pid_file(self) -> Path:
        """Where the daemon writes its pid."""
        return self.data_dir / "mosquitto.pid"

    @property
    def log_file(self) -> Path:
        """The broker's log."""
        return self.data_dir / "mosquitto.log"

    def service_secret(self) -> str:
        """The service account's secret, created on first use (file mode 0600)."""
        path = self.data_dir / "service.secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    @property
    def url(self) -> str:
        """The MQTT URL of the service account."""
        return f"mqtt://{SERVICE_USER}:{self.service_secret()}@127.0.0.1:{self.port}"

    def init(self) -> None:
        """Write the configuration and, when absent, credentials holding only the service account."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Written by hatang stack; edits are overwritten.\n",
            "per_listener_settings false\n",
            f"listener {self.port} 127.0.0.1\n",
            "persistence true\n",
            f"persistence_location {self.data_dir}/\n",
            f"pid_file {self.pid_file}\n",
            f"log_dest file {self.log_file}\n",
            "log_type error\nlog_type warning\nlog_type notice\n",
            "connection_messages false\n",
            "allow_anonymous false\n",
            f"password_file {self.password_file}\n",
            f"acl_file {self.acl_file}\n",
            *(f"{key} {value}\n" for key, value in _LIMITS.items()),
        ]
        if is_root():
            # Started as root Mosquitto would switch to the `mosquitto` user, which cannot write here.
            lines.append("user root\n")
        self.conf.write_text("".join(lines))
        if not self.password_file.exists():
            self.write_credentials([])

    def write_credentials(self, devices: Iterable[BrokerUser]) -> None:
        """Render the password and ACL files: the service account plus ``devices``; reload if running."""
        service = BrokerUser(SERVICE_USER, hash_password(self.service_secret()))
        _atomic_write(self.password_file, render_password_file([service, *devices]))
        _atomic_write(
            self.acl_file, render_acl_file(topic_prefix=self.topic_prefix, service_users=[SERVICE_USER])
        )
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
        """Whether this broker runs (by its pid file and port)."""
        return self.pid() is not None and port_open(self.port)

    def start(self) -> bool:
        """Start the broker as a daemon unless it runs; returns whether it was started now."""
        if self.running():
            return False
        if port_open(self.port):
            raise StackError(f"port {self.port} is taken by another program: set HATANG_STACK__MQTT_PORT")
        self.init()
        run_as(None, [which("mosquitto", Path("/usr/sbin")), "-c", str(self.conf), "-d"])
        wait_for_port(self.port, timeout=15, what="Mosquitto", log=self.log_file)
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
        out = run_as(None, [which("mosquitto", Path("/usr/sbin")), "-h"], check=False).stdout
        match = re.search(r"mosquitto version (\S+)", out)
        return match.group(1) if match else "unknown"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)
