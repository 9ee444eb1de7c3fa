"""Free loopback ports for the suite's services, each pytest-xdist worker drawing from its own range.

``hatang.stack.free_port`` asks the kernel for any free port (a bind to port 0) and closes it: until
the service binds it, another process asking the kernel may be handed the same port. One test
process runs one test at a time, but ``make test`` runs two workers (``-n 2``), and a worker's
stack, ingest metrics port or API port could be the other's. So the suite's ports come from below
the kernel's ephemeral range, where neither a bind to port 0 nor an outgoing connection ever lands,
each worker from a range of its own, walked from a random start (two suites on one machine seldom
meet) and skipping any port in use. What ``hatang bench`` starts in its own processes still uses
``hatang.stack.free_port``.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import socket
from collections.abc import Iterator
from pathlib import Path

from hatang.stack import free_port as kernel_free_port

SPAN = 2000  # ports per worker: a whole run takes a few hundred
WORKERS = 8  # ranges below the ephemeral range; worker gwN takes range N mod WORKERS
LOWEST = 10000  # never into the ports of well-known services
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")


def worker_index() -> int:
    """0 without xdist or for worker ``gw0``, 1 for ``gw1``, ..."""
    found = re.fullmatch(r"gw(\d+)", os.environ.get("PYTEST_XDIST_WORKER", ""))
    return int(found.group(1)) if found else 0


def _range() -> range | None:
    """This worker's ports; None where the kernel's ephemeral range leaves no room below it."""
    low = int(_EPHEMERAL.read_text().split()[0]) if _EPHEMERAL.exists() else 32768
    if low - SPAN * WORKERS < LOWEST:
        return None
    top = low - SPAN * (worker_index() % WORKERS)
    return range(top - SPAN, top)


def _bindable(port: int) -> bool:
    """Whether nothing holds ``port`` on loopback now (no SO_REUSEADDR: a TIME_WAIT counts as held)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class _Walk:
    """Round and round this worker's range from a random start, one port after another."""

    def __init__(self) -> None:
        self.ports = _range()
        self.at: Iterator[int] = iter(())
        if self.ports is not None:
            start = random.randrange(len(self.ports))
            self.at = itertools.cycle(itertools.chain(self.ports[start:], self.ports[:start]))

    def next_free(self) -> int:
        if self.ports is None:
            return kernel_free_port()
        for port in itertools.islice(self.at, len(self.ports)):
            if _bindable(port):
                return port
        raise RuntimeError(f"every port of {self.ports} is in use")


_walk = _Walk()


def free_port() -> int:
    """A loopback TCP port nothing listens on now, from this worker's own range (see above)."""
    return _walk.next_free()
