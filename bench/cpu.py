"""CPU time of the processes a benchmark phase runs on, from Linux ``/proc``.

Owns :class:`CpuMeter`: named groups of processes (the worker, the broker, the database server and
its backends), whose user + system CPU seconds are read at the start and at the end of a phase.
Benchmarks use it to say where a phase's time went per message, beside the rates they measure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return text.rsplit(")", 1)[1].split()  # fields after the command name, from "state" on


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` so far; 0.0 once it is gone."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / _TICK


def with_children(pid: int | None) -> list[int]:
    """``pid`` and the processes whose parent it is (a postmaster and its backends)."""
    if pid is None:
        return []
    found = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and fields[1] == str(pid):
                found.append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds per named group of processes between :meth:`start` and :meth:`stop`.

    A process that starts during the phase counts from zero; one that ends during it is not
    counted (benchmarks keep their connections open across a phase).
    """

    def __init__(self, groups: Mapping[str, Callable[[], Iterable[int]]]) -> None:
        self._groups = groups
        self._before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        return {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self._groups.items()}

    def start(self) -> None:
        """Take the starting readings."""
        self._before = self._read()

    def stop(self) -> dict[str, float]:
        """CPU seconds each group used since :meth:`start`."""
        after = self._read()
        return {
            name: sum(max(0.0, t - self._before.get(name, {}).get(pid, 0.0)) for pid, t in now.items())
            for name, now in after.items()
        }
