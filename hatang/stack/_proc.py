"""Running the stack's server programs: as the ``postgres`` OS user when we are root, and waiting."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path


class StackError(RuntimeError):
    """A local service could not be set up, started or stopped; ``detail`` holds its output."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message + (f"\n{detail.strip()}" if detail.strip() else ""))
        self.detail = detail


def is_root() -> bool:
    """Whether this process runs as root (then servers run as an unprivileged user)."""
    return os.geteuid() == 0


def run_as(user: str | None, argv: list[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (as ``user`` when given and we are root) and capture its output."""
    cwd = None
    if user is not None and is_root():
        argv = ["runuser", "-u", user, "--", *argv]
        cwd = "/"  # the current directory may be one ``user`` cannot enter (a checkout under /root)
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    if check and proc.returncode != 0:
        raise StackError(f"{' '.join(argv)} failed ({proc.returncode})", detail=proc.stdout + proc.stderr)
    return proc


def chown_to(path: Path, user: str) -> None:
    """Give ``path`` (recursively) to ``user``; a no-op unless we are root."""
    if not is_root():
        return
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def reachable_by(user: str, path: Path) -> bool:
    """Whether ``user`` can reach ``path`` (or, when it does not exist yet, its nearest existing parent).

    Asked of the system itself (``test -x`` run as ``user``), so ACLs and group membership count.
    """
    target = path
    while not target.exists() and target != target.parent:
        target = target.parent
    probe = subprocess.run(["runuser", "-u", user, "--", "test", "-x", str(target)], cwd="/", check=False)
    return probe.returncode == 0


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, *, timeout: float, what: str, log: Path | None = None) -> None:
    """Block until ``port`` accepts connections or fail with the service's log tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-2000:] if log is not None and log.exists() else ""
    raise StackError(f"{what} did not open port {port} within {timeout:.0f} s", detail=tail)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def which(program: str, *extra_dirs: Path) -> str:
    """The path of ``program`` on PATH or in ``extra_dirs``, or a StackError saying how to get it."""
    found = next((str(d / program) for d in extra_dirs if (d / program).exists()), None)
    found = found or shutil.which(program)
    if found is None:
        raise StackError(f"{program} not found: run `make run` or scripts/setup.sh to install the stack")
    return found
