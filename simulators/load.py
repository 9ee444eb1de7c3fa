"""Load mode: a fleet's devices split over worker processes, each running the publishing engine.

Owns :class:`LoadSpec` (what to run), :class:`LoadResult` (what was sent and acknowledged, summed
over workers) and :func:`run_load`, which starts the workers (``spawn``: no inherited sockets or
threads), waits until every worker has connected all its devices, gives them one common start
instant, shows progress on stderr and collects their tallies. ``hatang bench`` publishers and
``hatang simulate run`` both call :func:`run_load`. It must not read the database (the report does).
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from multiprocessing.sharedctypes import Synchronized, SynchronizedArray
from typing import Any

from firmware_contracts import Limits, compile_model, load_models
from simulators.errors import PublishError
from simulators.messages import FaultPlan, MessageFactory, SimDevice
from simulators.publisher import BrokerAddress, Connections, Tally, publish_schedule

_START_MARGIN_S = 0.5


@dataclass(frozen=True, slots=True)
class LoadSpec:
    """One load run: devices, broker, offered rate and shape of the messages."""

    devices: tuple[SimDevice, ...]
    broker: BrokerAddress
    topic_prefix: str
    rate: float  # messages per second offered, all workers together
    duration_s: float
    processes: int = 1
    qos: int = 1
    pack: int = 1
    faults: FaultPlan = field(default_factory=FaultPlan)
    seed: int = 1
    run_id: str = "run"
    limits: Limits = field(default_factory=Limits)
    service: BrokerAddress | None = None  # needed for unknown-device faults
    drain_timeout_s: float = 60.0
    connect_timeout_s: float = 120.0


@dataclass(slots=True)
class LoadResult:
    """Everything the workers sent, summed; ``started``/``ended`` are wall-clock epoch seconds."""

    started: float = 0.0
    ended: float = 0.0
    sent: int = 0
    acked: int = 0
    refused: int = 0
    unacked: int = 0
    readings_acked: int = 0
    dead_acked: dict[str, int] = field(default_factory=dict)
    faults_acked: dict[str, int] = field(default_factory=dict)
    refusals: dict[str, int] = field(default_factory=dict)
    silent_devices: int = 0
    behind_max_s: float = 0.0
    publish_s: float = 0.0  # wall time from the start until the last worker sent its last message

    def add(self, part: dict[str, Any]) -> None:
        """Fold one worker's tally in."""
        for key in ("sent", "acked", "refused", "unacked", "readings_acked", "silent_devices"):
            setattr(self, key, getattr(self, key) + part[key])
        for key in ("dead_acked", "faults_acked", "refusals"):
            target: dict[str, int] = getattr(self, key)
            for name, n in part[key].items():
                target[name] = target.get(name, 0) + n
        self.behind_max_s = max(self.behind_max_s, part["behind_max_s"])
        self.publish_s = max(self.publish_s, part["publish_s"])


def _split(items: Sequence[SimDevice], parts: int) -> list[tuple[SimDevice, ...]]:
    return [tuple(items[i::parts]) for i in range(parts)]


def _worker(
    spec: LoadSpec,
    index: int,
    devices: tuple[SimDevice, ...],
    *,
    silent: frozenset[str],
    ready: Any,
    go: Any,
    start_at: Synchronized[float],
    progress: SynchronizedArray[int],
    results: Any,
) -> None:
    """One worker process: connect its devices, publish its share on the schedule, report its tally.

    Long because it is a spawned process's whole life in one ``try`` (every failure goes back to the
    parent as a message); its two closures share the per-message state without passing it around.
    """
    try:
        tally = Tally()
        models = {key: compile_model(model, spec.limits) for key, model in load_models().items()}
        factory = MessageFactory(
            devices=devices, models=models, topic_prefix=spec.topic_prefix, seed=spec.seed,
            pack=spec.pack, run_id=f"{spec.run_id}-{index}",
        )  # fmt: skip
        client_prefix = f"{spec.run_id}-{index}"  # unique per worker: one client id, one session
        connections = Connections(spec.broker, qos=spec.qos, client_prefix=client_prefix, tally=tally)
        identities: list[tuple[str, str | None]] = [(d.external_id, d.secret) for d in devices]
        conns = connections.connect(identities, timeout_s=spec.connect_timeout_s)
        service_index = -1
        if spec.faults.unknown_device > 0:
            if spec.service is None or spec.service.username is None:
                raise PublishError("unknown-device faults need the service account", reason="no_service")
            # The service account publishes through the same loop as the devices.
            (service_index,) = connections.connect(
                [(f"{spec.service.username}", spec.service.password)], timeout_s=spec.connect_timeout_s
            )
        rng = random.Random(spec.seed * 7919 + index)
        silent_at = [
            spec.duration_s * rng.uniform(0.25, 0.75) if d.external_id in silent else float("inf")
            for d in devices
        ]
        ready.release()
        go.wait()
        start_wall = start_at.value
        start_mono = time.monotonic() + (start_wall - time.time())
        order = list(range(len(devices)))
        position = 0
        faults = spec.faults

        def next_message(wall: float, elapsed: float) -> None:
            nonlocal position
            for _ in range(len(order)):
                i = order[position % len(order)]
                position += 1
                if silent_at[i] > elapsed:
                    break
            else:
                return  # every device of this worker has gone silent
            fault = faults.draw(rng.random()) if faults.any else None
            for out in factory.message(i, wall, fault):
                conn = service_index if out.via_service else conns[i]
                connections.publish(conn, out.topic, out.payload, readings=out.readings, dead=out.dead,
                                    fault=out.fault)  # fmt: skip

        def report(elapsed: float) -> None:
            progress[index * 2] = tally.sent
            progress[index * 2 + 1] = tally.acked

        publish_schedule(
            connections, rate=spec.rate / spec.processes, duration_s=spec.duration_s,
            start_monotonic=start_mono, next_message=next_message, progress=report,
        )  # fmt: skip
        publish_s = time.time() - start_wall
        connections.drain(spec.drain_timeout_s)
        report(0.0)
        unacked = connections.unacknowledged()
        connections.close()
        part = asdict(tally)
        part.update(
            unacked=unacked,
            publish_s=publish_s,
            silent_devices=sum(1 for s in silent_at if s != float("inf")),
        )
        results.put((index, part, None))
    except BaseException as exc:  # report any failure to the parent rather than dying silently
        ready.release()
        results.put((index, None, f"{type(exc).__name__}: {exc}"))


def silent_devices(spec: LoadSpec) -> frozenset[str]:
    """The devices ``spec`` silences: exactly round(fraction x devices), at least one when asked for
    any, drawn by the seed (so a test knows them in advance)."""
    quiet = round(spec.faults.silent * len(spec.devices)) or (1 if spec.faults.silent > 0 else 0)
    return frozenset(d.external_id for d in random.Random(spec.seed).sample(spec.devices, quiet))


def run_load(spec: LoadSpec, *, status: Callable[[str], None] | None = None) -> LoadResult:
    """Run ``spec`` across ``spec.processes`` workers; ``status`` receives a progress line ~4x a second.

    Raises :class:`PublishError` when a worker fails (the broker refused a device, for one). Long
    because start, supervision and the join of the processes share one ``try``/``finally``.
    """
    if not spec.devices:
        raise PublishError("the fleet has no devices", reason="no_devices")
    processes = max(1, min(spec.processes, len(spec.devices)))
    if processes != spec.processes:
        spec = dataclasses.replace(spec, processes=processes)
    ctx = mp.get_context("spawn")
    ready = ctx.Semaphore(0)
    go = ctx.Event()
    start_at: Synchronized[float] = ctx.Value("d", 0.0)
    progress: SynchronizedArray[int] = ctx.Array("q", processes * 2)
    results = ctx.Queue()
    silent = silent_devices(spec)
    workers = [
        ctx.Process(
            target=_worker,
            args=(spec, i, part),
            kwargs={"silent": silent, "ready": ready, "go": go, "start_at": start_at, "progress": progress,
                    "results": results},
            name=f"sim-worker-{i}",
            daemon=True,
        )
        for i, part in enumerate(_split(spec.devices, processes))
    ]
    for w in workers:
        w.start()
    result = LoadResult()
    errors: list[str] = []
    try:
        for _ in workers:
            ready.acquire()
        start_at.value = time.time() + _START_MARGIN_S
        result.started = start_at.value
        go.set()
        total = int(spec.rate / processes * spec.duration_s) * processes
        pending = set(range(processes))
        while pending:
            while not results.empty():
                index, part, error = results.get()
                pending.discard(index)
                if error is not None:
                    errors.append(f"worker {index}: {error}")
                else:
                    result.add(part)
            if errors:
                break
            if status is not None:
                sent = sum(progress[i * 2] for i in range(processes))
                acked = sum(progress[i * 2 + 1] for i in range(processes))
                elapsed = max(1e-9, time.time() - result.started)
                status(
                    f"sent {sent:,}/{total:,}  acked {acked:,}  {sent / elapsed:,.0f} msg/s  "
                    f"{min(elapsed, spec.duration_s):.0f}/{spec.duration_s:.0f} s"
                )
            if any(not w.is_alive() for w in workers if w.exitcode not in (None, 0)):
                errors.append("a worker died")
                break
            time.sleep(0.25)
    finally:
        for w in workers:
            w.join(timeout=5 if not errors else 0.1)
            if w.is_alive():
                w.terminate()
    if errors:
        raise PublishError("; ".join(errors), reason="worker_failed")
    result.ended = time.time()
    return result


def stderr_status(line: str) -> None:
    """A progress line on stderr: rewritten in place on a terminal, printed every ~5 s otherwise."""
    if sys.stderr.isatty():
        sys.stderr.write("\r" + line.ljust(100))
        sys.stderr.flush()
        return
    now = time.monotonic()
    if now - _last_plain[0] >= 5.0:
        _last_plain[0] = now
        print(line, file=sys.stderr, flush=True)


_last_plain = [0.0]
