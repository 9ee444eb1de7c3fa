"""The pure core of ingest: messages in, one batch of rows, dead letters and upserts out.

Owns :class:`Batch` (what accumulates between two commits), :class:`DeadLetter`,
:class:`TopicLayout` and :func:`intake`, which resolves a message's device from its topic, checks
the device's state, normalises the payload with the contracts core and files the outcome. No I/O,
no clock: the receive time comes with the message, the commit time is passed in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

import orjson

from firmware_contracts import Reading, Rejection, normalise
from ingest.budget import DeadLetterBudget
from ingest.delivery import Delivery
from ingest.devices import Device, DeviceCache
from ingest.pgcopy import PG_EPOCH_US, ROW, frame

_MINUTE_US = 60_000_000

#: Dead letters kept per message: a pack with hundreds of bad records is kept whole once per reason
#: this many times at most; the last one says how many more there were.
MAX_DEAD_PER_MESSAGE = 20


class DeadLetter(NamedTuple):
    """One rejected message (or record of a pack), with the raw payload, for ``dead_letters``."""

    received_at: float
    topic: str
    payload: bytes
    device_id: int | None
    reason: str
    message: str
    record: int | None


@dataclass(frozen=True, slots=True)
class TopicLayout:
    """Where device telemetry is published: ``<prefix>/devices/<device>/telemetry`` as the device
    names it, ``<mount><prefix>/devices/<device>/telemetry`` as the platform receives it (the broker's
    device listener prepends its mount point, ``HATANG_DEVICE_MOUNT``: docs/security.md)."""

    prefix: str
    mount: str = ""
    # The whole head of a telemetry topic as received, for the one-comparison common case of
    # :meth:`device_of` (building the f-strings per message was a fifth of a microsecond).
    _head: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_head", f"{self.mount}{self.prefix}/devices/")

    @property
    def telemetry_filter(self) -> str:
        """The topic filter of every device's telemetry, as the platform receives it."""
        return f"{self.mount}{self.prefix}/devices/+/telemetry"

    def telemetry(self, device: str) -> str:
        """The topic ``device``'s telemetry reaches the platform on."""
        return f"{self.mount}{self.prefix}/devices/{device}/telemetry"

    def shared_filter(self, group: str) -> str:
        """The shared-subscription filter of a worker group."""
        return f"$share/{group}/{self.telemetry_filter}"

    def device_of(self, topic: str) -> str | None:
        """The device id of a telemetry topic (with or without the mount), or None for another shape."""
        head = self._head
        if topic.startswith(head) and topic.endswith("/telemetry"):  # as received: the common case
            device = topic[len(head) : -10]
            return device if device and "/" not in device else None
        if self.mount and topic.startswith(self.mount):
            topic = topic[len(self.mount) :]
        head, tail = f"{self.prefix}/devices/", "/telemetry"
        if not (topic.startswith(head) and topic.endswith(tail)) or len(topic) <= len(head) + len(tail):
            return None
        device = topic[len(head) : -len(tail)]
        return None if "/" in device else device

    def normalized(self, sector: str, area: str) -> str:
        """The fan-out topic of one sector and area."""
        return f"{self.prefix}/normalized/{sector}/{area}"


@dataclass(slots=True)
class Batch:
    """Everything between two commits: the deliveries to acknowledge and what they turned into."""

    deliveries: list[Delivery] = field(default_factory=list)
    rows: bytearray = field(default_factory=bytearray)
    row_count: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    accepted: list[tuple[Device, list[Reading], float]] = field(default_factory=list)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    unstored: int = 0  # dead letters counted but not stored (a device over its budget)
    # What the upserts need, kept by :func:`intake` in the loop that packs the rows (a second pass
    # over every reading in :func:`upserts` cost 0.6 µs a message): (device id, metric id) -> the
    # newest (time µs, value); device id -> newest receive time; minute -> its oldest reading (µs).
    latest: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)
    seen: dict[int, float] = field(default_factory=dict)
    firsts: dict[int, int] = field(default_factory=dict)
    # Per accepted message with readings: its device id and its newest reading's time (``lags``).
    newest_device: list[int] = field(default_factory=list)
    newest_time: list[float] = field(default_factory=list)

    def copy_data(self) -> bytes:
        """The readings as one binary COPY stream."""
        return frame(self.rows)


def _dead(
    batch: Batch,
    delivery: Delivery,
    device_id: int | None,
    reason: str,
    message: str,
    *,
    record: int | None = None,
    budget: DeadLetterBudget | None = None,
) -> None:
    batch.rejected_by_reason[reason] = batch.rejected_by_reason.get(reason, 0) + 1
    if budget is not None and not budget.admit(delivery.topic if device_id is None else device_id,
                                               delivery.received_at):  # fmt: skip
        batch.unstored += 1  # counted, not stored: this device is over its dead-letter budget
        return
    batch.dead.append(
        DeadLetter(delivery.received_at, delivery.topic, delivery.payload, device_id, reason, message, record)
    )


def _file_rejections(
    batch: Batch,
    delivery: Delivery,
    device_id: int,
    rejections: Sequence[Rejection],
    *,
    budget: DeadLetterBudget | None,
) -> None:
    """Dead letters for a message's rejections: the first ``MAX_DEAD_PER_MESSAGE - 1`` one each, the
    rest summed up in one (each still counted by reason)."""
    for rejection in rejections[: MAX_DEAD_PER_MESSAGE - 1]:
        _dead(batch, delivery, device_id, rejection.reason, rejection.message, record=rejection.record,
              budget=budget)  # fmt: skip
    if len(rejections) >= MAX_DEAD_PER_MESSAGE:
        rest = rejections[MAX_DEAD_PER_MESSAGE - 1 :]
        reasons = sorted({r.reason for r in rest})
        first = rest[0]
        summary = f"{len(rest)} more rejections ({', '.join(reasons)}); first: {first.message}"
        _dead(batch, delivery, device_id, first.reason, summary, record=first.record, budget=budget)
        for r in rest[1:]:
            batch.rejected_by_reason[r.reason] = batch.rejected_by_reason.get(r.reason, 0) + 1


def intake(
    batch: Batch,
    delivery: Delivery,
    *,
    layout: TopicLayout,
    devices: DeviceCache,
    metric_ids: Mapping[str, int],
    budget: DeadLetterBudget | None = None,
) -> int:
    """File one message into ``batch``; returns the number of readings it added. Dead letters beyond
    ``budget`` are counted, not stored.

    Long on purpose, like ``normalise_pack``: it runs once per message and each step as a function
    of its own would cost a call per message (a one-metric pack's rows are ``_file_series``'s,
    called once per pack).
    """
    batch.deliveries.append(delivery)
    external_id = layout.device_of(delivery.topic)
    if external_id is None:
        _dead(batch, delivery, None, "bad_topic", f"not {layout.prefix}/devices/<device>/telemetry",
              budget=budget)  # fmt: skip
        return 0
    device = devices.get(external_id)
    if device is None:
        _dead(batch, delivery, None, "unknown_device", f"no device {external_id!r} in the registry",
              budget=budget)  # fmt: skip
        return 0
    if device.state != "active":
        _dead(batch, delivery, device.id, "device_not_active", f"device {external_id!r} is {device.state}",
              budget=budget)  # fmt: skip
        return 0
    compiled = device.compiled
    if compiled is None:
        model, version = device.model
        _dead(batch, delivery, device.id, "unknown_model", f"model {model} v{version} unknown to this worker",
              budget=budget)  # fmt: skip
        return 0
    received_at = delivery.received_at
    outcome = normalise(delivery.payload, received_at, compiled)
    rejections = outcome.rejections
    if rejections:
        _file_rejections(batch, delivery, device.id, rejections, budget=budget)
    readings = outcome.readings
    if not readings:
        return 0
    device_id = device.id
    if batch.seen.get(device_id, -1.0) < received_at:
        batch.seen[device_id] = received_at
    if len(readings) > 1 and len(metrics := {r[1] for r in readings}) == 1:
        metric_id = metric_ids.get(metrics.pop())
        if metric_id is not None:  # a pack of one metric: the bookkeeping once, not per reading
            batch.row_count += len(readings)
            batch.accepted.append((device, readings, received_at))
            batch.newest_device.append(device_id)
            batch.newest_time.append(_file_series(batch, device_id, metric_id, readings))
            return len(readings)
    pack, rows, latest, firsts = ROW.pack, batch.rows, batch.latest, batch.firsts
    unknown, newest = None, float("-inf")
    for time, metric, value in readings:
        metric_id = metric_ids.get(metric)
        if metric_id is None:
            unknown = metric
            continue
        time_us = round(time * 1_000_000)
        rows += pack(4, 8, time_us - PG_EPOCH_US, 8, device_id, 2, metric_id, 8, value)
        key = (device_id, metric_id)
        current = latest.get(key)
        if current is None or current[0] < time_us:
            latest[key] = (time_us, value)
        minute = time_us // 60_000_000
        if firsts.get(minute, time_us + 1) > time_us:
            firsts[minute] = time_us
        if time > newest:  # noqa: PLR1730 - max() is a call per reading
            newest = time
    if unknown is not None:
        kept = [r for r in readings if r.metric in metric_ids]
        _dead(batch, delivery, device_id, "unknown_metric", f"metric {unknown!r} is not in the database",
              budget=budget)  # fmt: skip
        readings = kept
    batch.row_count += len(readings)
    batch.accepted.append((device, readings, received_at))
    if readings:
        batch.newest_device.append(device_id)
        batch.newest_time.append(newest)
    return len(readings)


def _file_series(batch: Batch, device_id: int, metric_id: int, readings: Sequence[Reading]) -> float:
    """The rows and bookkeeping of many readings of one metric (a SenML pack); returns the newest
    reading's time. Per message what :func:`intake`'s loop does per reading: the pack's rows in one
    join, its newest value, and its oldest reading per minute found by bisecting the sorted times
    (a pack spans a minute or two)."""
    pack = ROW.pack
    times_us = [round(r.time * 1_000_000) for r in readings]
    batch.rows += b"".join(
        [pack(4, 8, t - PG_EPOCH_US, 8, device_id, 2, metric_id, 8, r.value)
         for t, r in zip(times_us, readings, strict=True)]
    )  # fmt: skip
    top = max(times_us)
    at = times_us.index(top)
    key = (device_id, metric_id)
    current = batch.latest.get(key)
    if current is None or current[0] < top:
        batch.latest[key] = (top, readings[at].value)
    ordered, firsts = sorted(times_us), batch.firsts
    i = 0
    while i < len(ordered):
        first = ordered[i]
        minute = first // _MINUTE_US
        if firsts.get(minute, first + 1) > first:
            firsts[minute] = first
        i = bisect_left(ordered, (minute + 1) * _MINUTE_US, i)
    return readings[at].time


class Upserts(NamedTuple):
    """Set-based upserts of one batch: newest reading per key, newest receive time per device, and
    per minute of reading time the oldest reading in it (``ingest.sink`` records the minutes the
    database finds late for the rollups)."""

    latest_device: list[int]
    latest_metric: list[int]
    latest_time_us: list[int]
    latest_value: list[float]
    seen_device: list[int]
    seen_at: list[float]
    minute: list[int]
    minute_first_us: list[int]


def upserts(batch: Batch) -> Upserts:
    """The batch's ``latest_readings`` and ``device_seen`` upserts, sorted by key.

    Sorted so that concurrent workers lock rows in the same order. What they hold was gathered by
    :func:`intake` (only the newest reading per device and metric of the batch is upserted).
    """
    latest, seen, firsts = batch.latest, batch.seen, batch.firsts
    keys = sorted(latest)
    values = [latest[k] for k in keys]
    seen_ids = sorted(seen)
    minutes = sorted(firsts)
    return Upserts(
        [k[0] for k in keys],
        [k[1] for k in keys],
        [v[0] for v in values],
        [v[1] for v in values],
        seen_ids,
        [seen[d] for d in seen_ids],
        minutes,
        [firsts[m] for m in minutes],
    )


def fanout(
    batch: Batch, layout: TopicLayout, *, batch_id: int, committed_at: float
) -> list[tuple[str, bytes]]:
    """One compact message per sector and area of the batch: ``(topic, payload)`` pairs.

    The payload is columnar JSON: ``{"batch": n, "committed": t, "device": [...], "organisation":
    [...], "metric": [...], "time": [...], "value": [...]}`` (times in epoch seconds, ``committed``
    when the batch committed, ``organisation`` the device's organisation id), one entry per reading;
    consumers filter themselves (docs/ingest.md, "Fan-out").
    """
    slices: dict[tuple[str, str], tuple[list[str], list[int], list[str], list[float], list[float]]] = {}
    for device, readings, _ in batch.accepted:
        columns = slices.get((device.sector, device.area))
        if columns is None:
            columns = slices[(device.sector, device.area)] = ([], [], [], [], [])
        devices_col, owners_col, metrics_col, times_col, values_col = columns
        if len(readings) == 1:
            time, metric, value = readings[0]
            devices_col.append(device.external_id)
            owners_col.append(device.organisation_id)
            metrics_col.append(metric)
            times_col.append(time)
            values_col.append(value)
        elif readings:  # a pack: whole columns at once, not five appends a reading
            times, metrics, values = zip(*readings, strict=True)
            devices_col.extend([device.external_id] * len(readings))
            owners_col.extend([device.organisation_id] * len(readings))
            metrics_col.extend(metrics)
            times_col.extend(times)
            values_col.extend(values)
    return [
        (
            layout.normalized(sector, area),
            orjson.dumps(
                {"batch": batch_id, "committed": committed_at, "device": d, "organisation": o, "metric": m,
                 "time": t, "value": v}
            ),
        )
        for (sector, area), (d, o, m, t, v) in sorted(slices.items())
    ]


def lags(batch: Batch, committed_at: float) -> list[float]:
    """Per accepted message with readings: seconds from its newest reading's time to ``committed_at``
    (a message accepted with no reading, e.g. an empty SenML pack, has no lag); in the order of
    ``batch.newest_device``."""
    return [committed_at - t for t in batch.newest_time]
