"""The upserts' array literals reach PostgreSQL exactly: every bigint and every float, bit for bit."""

from __future__ import annotations

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.pgcopy import array_literal

bigints = st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=50)
floats = st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=50)


def test_array_literals_round_trip(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:

        @settings(max_examples=150, deadline=None)
        @given(bigints, floats)
        def round_trip(ints: list[int], values: list[float]) -> None:
            literals = (array_literal(ints), array_literal(values))
            row = conn.execute("SELECT %s::bigint[], %s::float8[]", literals).fetchone()
            assert row is not None
            assert row[0] == ints
            assert [v.hex() for v in row[1]] == [v.hex() for v in values]  # -0.0 and 0.0 differ too

        round_trip()
