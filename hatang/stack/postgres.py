"""The project's own PostgreSQL cluster with TimescaleDB preloaded, in a data directory of its own.

Owns initdb, the cluster's configuration, start, stop and version facts. It never touches the
machine's own clusters; when a ``HATANG_DATABASE_URL`` is set the stack does not use this at all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg

from hatang.stack._proc import StackError, chown_to, is_root, port_open, reachable_by, run_as, wait_for_port

SERVER_USER = "postgres"
DB_USER = "hatang"
DB_NAME = "hatang"
_PG_ROOT = Path("/usr/lib/postgresql")
# Where a root-run stack keeps a cluster whose configured place the ``postgres`` user cannot reach.
CLUSTERS_ROOT = Path("/var/lib/hatang/clusters")


def cluster_dir(data_dir: Path) -> Path:
    """Where the cluster meant for ``data_dir`` really lives.

    Run as root, the server runs as ``postgres``, which cannot enter a checkout under a 0700
    directory (``/root/hatang``). Rather than loosen the modes of someone's home directory, such a
    cluster lives under ``CLUSTERS_ROOT``, in a directory named after the configured path, so each
    checkout keeps its own cluster and finds it again (docs/operations.md, "Where the data lives").
    """
    if not is_root() or reachable_by(SERVER_USER, data_dir):
        return data_dir
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return CLUSTERS_ROOT / digest / "data"


def installed_versions() -> list[str]:
    """PostgreSQL major versions with server binaries on this machine, newest first."""
    if not _PG_ROOT.is_dir():
        return []
    found = [p.name for p in _PG_ROOT.iterdir() if (p / "bin" / "postgres").exists()]
    return sorted(found, key=int, reverse=True)


def bin_dir(version: str | None) -> Path:
    """The bin directory of the chosen (or newest) PostgreSQL."""
    versions = installed_versions()
    if not versions:
        raise StackError("no PostgreSQL server found under /usr/lib/postgresql: run scripts/setup.sh")
    chosen = version or versions[0]
    if chosen not in versions:
        raise StackError(f"PostgreSQL {chosen} is not installed (found {', '.join(versions)})")
    return _PG_ROOT / chosen / "bin"


@dataclass(frozen=True, slots=True)
class LocalPostgres:
    """A PostgreSQL cluster in ``data_dir`` listening on 127.0.0.1:``port``.

    ``durable=False`` turns fsync off: for throw-away test clusters only.
    """

    data_dir: Path
    port: int
    version: str | None = None
    durable: bool = True

    @property
    def url(self) -> str:
        """The connection URL of the platform's database."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    def admin_url(self, dbname: str = "postgres") -> str:
        """A URL for maintenance connections (creating databases)."""
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{dbname}"

    @property
    def _log(self) -> Path:
        return self.data_dir.parent / "postgresql.log"

    def _user(self) -> str | None:
        return SERVER_USER if is_root() else None

    def init(self) -> bool:
        """Create and configure the cluster if absent; returns whether it was created."""
        created = False
        if not (self.data_dir / "PG_VERSION").exists():
            for parent in reversed(self.data_dir.parents):
                if not parent.exists():  # readable by all, as the server must traverse it
                    parent.mkdir(mode=0o755)
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self.data_dir.chmod(0o700)
            chown_to(self.data_dir, SERVER_USER)
            run_as(
                self._user(),
                [
                    str(bin_dir(self.version) / "initdb"),
                    "-D", str(self.data_dir),
                    "-U", DB_USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
            )
            created = True
        self._configure()
        return created

    def _configure(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        include = "include_if_exists = 'hatang.conf'"
        text = conf.read_text()
        if include not in text:
            conf.write_text(text + f"\n{include}\n")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            # The socket lives in the data directory so clusters of different checkouts never meet.
            "unix_socket_directories": f"'{self.data_dir}'",
            "shared_preload_libraries": "'timescaledb'",
            "timescaledb.telemetry_level": "off",
            "max_connections": "200",
            "shared_buffers": "256MB",
            "max_wal_size": "4GB",
            "checkpoint_timeout": "15min",
            "max_locks_per_transaction": "256",
            "fsync": "on" if self.durable else "off",
            "full_page_writes": "on" if self.durable else "off",
            "logging_collector": "off",
        }
        body = "# Written by hatang stack; edits are overwritten.\n" + "".join(
            f"{key} = {value}\n" for key, value in settings.items()
        )
        target = self.data_dir / "hatang.conf"
        if not target.exists() or target.read_text() != body:
            target.write_text(body)
            chown_to(target, SERVER_USER)

    def pid(self) -> int | None:
        """The postmaster's process id (the first line of its pid file), or None when stopped."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, PermissionError, ValueError):
            return None

    def running(self) -> bool:
        """Whether this cluster's postmaster runs (by its pid file and port)."""
        return (self.data_dir / "postmaster.pid").exists() and port_open(self.port)

    def start(self) -> bool:
        """Start the cluster unless it runs; returns whether it was started now."""
        if self.running():
            return False
        if port_open(self.port):
            raise StackError(f"port {self.port} is taken by another program: set HATANG_STACK__PG_PORT")
        self._log.touch()
        chown_to(self._log, SERVER_USER)
        run_as(
            self._user(),
            [str(bin_dir(self.version) / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self._log),
             "-w", "-t", "60", "start"],
        )
        wait_for_port(self.port, timeout=30, what="PostgreSQL", log=self._log)
        return True

    def stop(self, *, mode: str = "fast") -> bool:
        """Stop the cluster if it runs; returns whether it was running."""
        if not (self.data_dir / "postmaster.pid").exists():
            return False
        run_as(
            self._user(),
            [str(bin_dir(self.version) / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"],
            check=False,
        )
        return True

    def ensure_database(self) -> bool:
        """Create the platform's database (with TimescaleDB) if absent; returns whether created."""
        with psycopg.connect(self.admin_url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        return exists is None

    def server_version(self) -> str:
        """The ``postgres --version`` of the binaries in use."""
        out = run_as(None, [str(bin_dir(self.version) / "postgres"), "--version"]).stdout
        match = re.search(r"(\d+(?:\.\d+)+)", out)
        return match.group(1) if match else out.strip()
