"""Bucket widths, alignment and the choice of rollup backend (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hatang.db import TimescaleInfo
from timeseries import Bucket, InvalidBucketError, align, check_origin, choose_backend
from timeseries.buckets import floor_to

ORIGIN = datetime(2000, 1, 3, tzinfo=timezone(timedelta(hours=7)))


@pytest.mark.parametrize(
    ("text", "width", "label", "level"),
    [
        ("1m", timedelta(minutes=1), "1m", "1m"),
        ("15min", timedelta(minutes=15), "15m", "1m"),
        ("90m", timedelta(minutes=90), "90m", "1m"),
        ("60m", timedelta(hours=1), "1h", "1h"),
        ("6h", timedelta(hours=6), "6h", "1h"),
        ("1d", timedelta(days=1), "1d", "1h"),
        ("1440m", timedelta(days=1), "1d", "1h"),
    ],
)
def test_parse_width_label_and_level(text: str, width: timedelta, label: str, level: str) -> None:
    bucket = Bucket.parse(text)
    assert bucket.width == width
    assert bucket.label == label
    assert bucket.level == level


@pytest.mark.parametrize("text", ["", "5", "5s", "2d", "0m", "1441m", "1w", "-5m", "1.5h"])
def test_widths_outside_a_minute_to_a_day_are_refused(text: str) -> None:
    with pytest.raises(InvalidBucketError) as caught:
        Bucket.parse(text)
    assert caught.value.field == "bucket"


def test_a_width_that_is_not_whole_minutes_is_refused() -> None:
    with pytest.raises(InvalidBucketError, match="whole number of minutes"):
        Bucket(timedelta(seconds=90))


def test_align_floors_the_start_and_ceils_the_end_to_local_midnight() -> None:
    day = Bucket.parse("1d")
    start = datetime(2025, 6, 1, 18, 30, tzinfo=UTC)  # 01:30 on 2 June in Viet Nam
    end = datetime(2025, 6, 2, 17, 0, tzinfo=UTC)  # exactly local midnight of 3 June
    first, stop = align(start, end, day, ORIGIN)
    assert first == datetime(2025, 6, 1, 17, 0, tzinfo=UTC)
    assert stop == end


@given(
    moment=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=1, max_value=1440),
)
def test_every_bucket_is_a_union_of_whole_rollup_buckets(moment: datetime, minutes: int) -> None:
    bucket = Bucket(timedelta(minutes=minutes))
    start = floor_to(moment, bucket, ORIGIN)
    assert start <= moment < start + bucket.width
    level_width = timedelta(hours=1) if bucket.level == "1h" else timedelta(minutes=1)
    assert (start - datetime(2000, 1, 1, tzinfo=UTC)) % level_width == timedelta(0)


def test_origin_must_lie_on_a_whole_hour() -> None:
    assert check_origin(ORIGIN) == ORIGIN
    with pytest.raises(InvalidBucketError):
        check_origin(datetime(2000, 1, 3, 0, 30, tzinfo=UTC))
    with pytest.raises(InvalidBucketError):
        check_origin(datetime(2000, 1, 3, tzinfo=timezone(timedelta(hours=5, minutes=30))))
    with pytest.raises(InvalidBucketError):
        check_origin(datetime(2000, 1, 3))


@pytest.mark.parametrize(
    ("info", "backend"),
    [
        (TimescaleInfo(version="2.19.3", license="apache", installed=True), "tables"),
        (TimescaleInfo(version="2.19.3", license="timescale", installed=True), "continuous"),
        # Available but not created in this database: no continuous aggregates to rely on.
        (TimescaleInfo(version="2.19.3", license="timescale", installed=False), "tables"),
        (TimescaleInfo(version="2.19.3", license=None, installed=True), "tables"),
        (TimescaleInfo(version=None, license=None, installed=False), "tables"),
    ],
)
def test_continuous_aggregates_are_chosen_only_where_the_edition_has_them(
    info: TimescaleInfo, backend: str
) -> None:
    assert choose_backend(info) == backend
