"""The pure core: topics, intake, upserts, fan-out and the COPY row format, without any service."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_contracts import Limits, load_models
from ingest.batch import MAX_DEAD_PER_MESSAGE, Batch, TopicLayout, fanout, intake, lags, upserts
from ingest.delivery import Delivery
from ingest.devices import DeviceCache, DeviceRow
from ingest.pgcopy import PG_EPOCH_US, ROW, epoch_us, frame, pack_row

PREFIX = "city/v1"
LAYOUT = TopicLayout(PREFIX)
NOW = 1_748_736_000.0
METRICS = {"water_pressure": 7, "water_flow": 8, "water_temperature": 9}
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _cache() -> DeviceCache:
    cache = DeviceCache(models=load_models(), limits=Limits())
    rows = [
        DeviceRow(1, "pl-1", "pressurelog-pl20", 1, "active", "water", "kinh-bac", 7, T0),
        DeviceRow(2, "pl-2", "pressurelog-pl20", 1, "active", "water", None, 1, T0),
        DeviceRow(3, "pl-3", "pressurelog-pl20", 1, "suspended", "water", "kinh-bac", 1, T0),
        DeviceRow(4, "pl-4", "pressurelog-pl20", 9, "active", "water", "kinh-bac", 1, T0),
    ]
    assert cache.apply(rows, replace=True) == 4
    return cache


def _msg(device: str, payload: bytes, *, topic: str | None = None, at: float = NOW) -> Delivery:
    return Delivery(topic or f"{PREFIX}/devices/{device}/telemetry", payload, 1, 1, at, 0)


def test_topic_layout() -> None:
    assert LAYOUT.device_of("city/v1/devices/pl-1/telemetry") == "pl-1"
    for bad in ("city/v1/devices//telemetry", "city/v1/devices/a/b/telemetry", "other/devices/x/telemetry",
                "city/v1/devices/x/status", "city/v1/devices/telemetry"):  # fmt: skip
        assert LAYOUT.device_of(bad) is None, bad
    assert LAYOUT.shared_filter("g") == "$share/g/city/v1/devices/+/telemetry"
    assert LAYOUT.normalized("water", "kinh-bac") == "city/v1/normalized/water/kinh-bac"


def test_intake_files_each_kind_of_message() -> None:
    cache, batch = _cache(), Batch()
    good = orjson.dumps({"t": NOW - 60, "psi": 50.0})
    assert intake(batch, _msg("pl-1", good), layout=LAYOUT, devices=cache, metric_ids=METRICS) == 1
    for device in ("ghost", "pl-3", "pl-4"):
        assert intake(batch, _msg(device, good), layout=LAYOUT, devices=cache, metric_ids=METRICS) == 0
    bad_topic = _msg("", good, topic=f"{PREFIX}/devices//telemetry")
    assert intake(batch, bad_topic, layout=LAYOUT, devices=cache, metric_ids=METRICS) == 0
    assert [(d.reason, d.device_id) for d in batch.dead] == [
        ("unknown_device", None), ("device_not_active", 3), ("unknown_model", 4), ("bad_topic", None),
    ]  # fmt: skip
    assert len(batch.deliveries) == 5
    assert batch.row_count == 1
    assert len(batch.rows) == ROW.size
    fields = ROW.unpack(bytes(batch.rows))
    assert fields[2] + PG_EPOCH_US == epoch_us(NOW - 60)
    assert (fields[4], fields[6]) == (1, METRICS["water_pressure"])
    assert abs(fields[8] - 50.0 * 0.0689475729) < 1e-6


def test_a_pack_with_bad_records_keeps_the_good_ones_and_caps_dead_letters() -> None:
    cache, batch = _cache(), Batch()
    records = [{"n": "pressure", "u": "psi", "v": 40.0, "t": NOW - 600 + i} for i in range(10)]
    records += [{"n": "pressure", "u": "psi", "v": 1e6, "t": NOW - 300 + i} for i in range(30)]
    added = intake(
        batch, _msg("pl-2", orjson.dumps(records)), layout=LAYOUT, devices=cache, metric_ids=METRICS
    )
    assert added == 10
    assert len(batch.dead) == MAX_DEAD_PER_MESSAGE
    assert {d.reason for d in batch.dead} == {"out_of_range"}
    assert "11 more rejections" in batch.dead[-1].message
    assert batch.rejected_by_reason == {"out_of_range": 30}


def test_upserts_keep_the_newest_per_key_sorted() -> None:
    cache, batch = _cache(), Batch()
    for device, t, at in (("pl-2", NOW - 30, NOW), ("pl-1", NOW - 10, NOW + 1), ("pl-1", NOW - 20, NOW + 2)):
        payload = orjson.dumps({"t": t, "psi": 40.0, "tempF": 68.0})
        intake(batch, _msg(device, payload, at=at), layout=LAYOUT, devices=cache, metric_ids=METRICS)
    result = upserts(batch)
    assert list(zip(result.latest_device, result.latest_metric, strict=True)) == [
        (1, 7),
        (1, 9),
        (2, 7),
        (2, 9),
    ]
    assert result.latest_time_us == [epoch_us(NOW - 10)] * 2 + [epoch_us(NOW - 30)] * 2
    assert abs(result.latest_value[1] - 20.0) < 1e-9  # 68 degF
    assert (result.seen_device, result.seen_at) == ([1, 2], [NOW + 2, NOW])
    # One minute of reading time (NOW is a whole minute), with its oldest reading.
    assert (result.minute, result.minute_first_us) == ([int(NOW) // 60 - 1], [epoch_us(NOW - 30)])
    assert lags(batch, NOW + 5) == [35.0, 15.0, 25.0]


@settings(deadline=None, max_examples=50)
@given(st.lists(st.integers(min_value=-7_000, max_value=-1), min_size=2, max_size=60, unique=True))
def test_a_pack_files_as_its_readings_sent_one_by_one(offsets: list[int]) -> None:
    """A one-metric pack takes ``intake``'s per-message path; the rows, upserts and lags are those of
    the same readings sent as single messages (times unsorted, over several minutes)."""
    cache, as_pack, one_by_one = _cache(), Batch(), Batch()
    values = [20.0 + i / 8 for i in range(len(offsets))]
    records = [{"bt": NOW, "n": "pressure", "u": "psi", "t": offsets[0], "v": values[0]}]
    rest = zip(offsets[1:], values[1:], strict=True)
    records += [{"n": "pressure", "u": "psi", "t": t, "v": v} for t, v in rest]
    assert intake(as_pack, _msg("pl-1", orjson.dumps(records)), layout=LAYOUT, devices=cache,
                  metric_ids=METRICS) == len(offsets)  # fmt: skip
    for t, v in zip(offsets, values, strict=True):
        payload = orjson.dumps({"t": NOW + t, "psi": v})
        intake(one_by_one, _msg("pl-1", payload), layout=LAYOUT, devices=cache, metric_ids=METRICS)
    assert bytes(as_pack.rows) == bytes(one_by_one.rows)
    assert upserts(as_pack) == upserts(one_by_one)
    assert lags(as_pack, NOW) == [min(lags(one_by_one, NOW))]  # from the pack's newest reading


def test_fanout_is_one_columnar_message_per_sector_and_area() -> None:
    cache, batch = _cache(), Batch()
    for device in ("pl-1", "pl-2", "pl-1"):
        payload = orjson.dumps({"t": NOW - 5, "psi": 30.0})
        intake(batch, _msg(device, payload), layout=LAYOUT, devices=cache, metric_ids=METRICS)
    messages = fanout(batch, LAYOUT, batch_id=7, committed_at=1_700_000_000.5)
    assert [topic for topic, _ in messages] == [
        "city/v1/normalized/water/kinh-bac", "city/v1/normalized/water/unassigned",
    ]  # fmt: skip
    first = orjson.loads(messages[0][1])
    assert first["batch"] == 7
    assert first["committed"] == 1_700_000_000.5
    assert first["device"] == ["pl-1", "pl-1"]
    assert first["organisation"] == [7, 7]  # each reading's device's organisation id
    assert orjson.loads(messages[1][1])["organisation"] == [1]
    assert first["metric"] == ["water_pressure"] * 2
    assert first["time"] == [NOW - 5] * 2
    assert len(first["value"]) == 2


@given(
    st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False),
    st.integers(min_value=1, max_value=2**62),
    st.integers(min_value=1, max_value=2**15 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
)
def test_a_packed_row_reads_back(seconds: float, device: int, metric: int, value: float) -> None:
    row = pack_row(epoch_us(seconds), device, metric, value)
    nfields, _, time_pg, _, device_back, _, metric_back, _, value_back = ROW.unpack(row)
    assert (nfields, device_back, metric_back, value_back) == (4, device, metric, value)
    assert time_pg + PG_EPOCH_US == epoch_us(seconds)
    stream = frame(row)
    assert stream.startswith(b"PGCOPY\n\xff\r\n\x00") and stream.endswith(struct.pack(">h", -1))  # noqa: PT018


def test_lags_skip_messages_accepted_without_readings() -> None:
    """Finding 11: a message accepted with no reading (an empty pack) no longer crashes ``lags``."""
    cache, batch = _cache(), Batch()
    for payload in (b"[]", orjson.dumps({"t": NOW - 60, "psi": 50.0})):
        intake(batch, _msg("pl-1", payload), layout=LAYOUT, devices=cache, metric_ids=METRICS)
    device = batch.accepted[-1][0]
    batch.accepted.append((device, [], NOW))  # what an accepted message without readings leaves
    assert lags(batch, NOW) == [60.0]


def test_topic_layout_with_the_device_mount() -> None:
    mounted = TopicLayout(PREFIX, "ingress/")
    assert mounted.telemetry_filter == "ingress/city/v1/devices/+/telemetry"
    assert mounted.shared_filter("g") == "$share/g/ingress/city/v1/devices/+/telemetry"
    assert mounted.telemetry("pl-1") == "ingress/city/v1/devices/pl-1/telemetry"
    assert mounted.device_of("ingress/city/v1/devices/pl-1/telemetry") == "pl-1"
    assert mounted.device_of("city/v1/devices/pl-1/telemetry") == "pl-1"  # letters from before the mount
    assert mounted.device_of("ingress/city/v1/devices/pl-1/status") is None
