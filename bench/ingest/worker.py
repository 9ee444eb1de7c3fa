"""``hatang ingest`` as a subprocess of the ingest benchmark, read through its log and metrics.

Owns starting, observing and stopping the worker under test; it must not publish.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import orjson

from hatang.stack import free_port


class WorkerProcess:
    """``hatang ingest`` as a subprocess, read through its log and its metrics endpoint."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log = log
        with log.open("ab") as handle:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "hatang.cli", "ingest", "--metrics-port", str(self.port)],
                env=env,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def connected_at(self, timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log.read_text().splitlines():
                if '"connected to the broker"' in line:
                    return datetime.fromisoformat(orjson.loads(line)["ts"]).timestamp()
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError(f"ingest worker did not connect:\n{self.log.read_text()[-2000:]}")

    def metric(self, name: str) -> float:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
                text = resp.read().decode()
        except OSError:
            return -1.0
        # Summed over labels: a labelled counter's lines read ``name{reason="..."} 3``.
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith((name + " ", name + "{"))
        )

    def buckets(self, name: str) -> dict[float, float]:
        """Cumulative counts of histogram ``name`` by upper bound."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=2) as resp:
            text = resp.read().decode()
        found = {}
        for line in text.splitlines():
            if line.startswith(name + "_bucket{"):
                bound = line.split('le="', 1)[1].split('"', 1)[0]
                found[float(bound)] = float(line.rsplit(" ", 1)[1])
        return found

    def wait_stored(self, expected: float, timeout: float = 300) -> float:
        """Poll the worker until it has stored ``expected`` readings; returns the time of the commit
        that did it (the worker's own clock, so the poll interval adds nothing)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.metric("hatang_ingest_readings_stored_total") >= expected:
                return self.metric("hatang_ingest_last_commit_timestamp_seconds")
            time.sleep(0.25)  # each scrape costs the worker CPU: poll gently
        raise RuntimeError(
            f"worker stored {self.metric('hatang_ingest_readings_stored_total')} of {expected}"
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

