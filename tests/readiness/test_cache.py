"""Live readiness counts are reused for a few seconds and computed once for concurrent callers."""

from __future__ import annotations

import asyncio

import pytest

from registry.readiness import Counts, LiveCountsCache

ONE = {"water": Counts(essential=3, equipped=2, ready=1)}
TWO = {"water": Counts(essential=3, equipped=3, ready=3)}


def test_fresh_counts_are_reused_and_stale_ones_recomputed() -> None:
    now = [100.0]
    cache = LiveCountsCache(ttl_s=15, clock=lambda: now[0])
    answers = iter([ONE, TWO])

    async def compute() -> dict[str, Counts]:
        return next(answers)

    async def scenario() -> list[dict[str, Counts]]:
        got = [await cache.get("all", compute)]
        now[0] += 14.9
        got.append(await cache.get("all", compute))
        now[0] += 0.2
        got.append(await cache.get("all", compute))
        return got

    assert asyncio.run(scenario()) == [ONE, ONE, TWO]
    assert cache.computed == 2


def test_concurrent_callers_share_one_computation_and_failures_are_not_kept() -> None:
    cache = LiveCountsCache(ttl_s=15)
    calls = 0

    async def slow() -> dict[str, Counts]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return ONE

    async def failing() -> dict[str, Counts]:
        raise RuntimeError("database away")

    async def scenario() -> None:
        results = await asyncio.gather(*(cache.get(("area", 1), slow) for _ in range(20)))
        assert results == [ONE] * 20
        with pytest.raises(RuntimeError):
            await cache.get("other", failing)
        assert await cache.get("other", slow) == ONE  # the failure was not kept

    asyncio.run(scenario())
    assert calls == 2


def test_zero_ttl_computes_every_time() -> None:
    cache = LiveCountsCache(ttl_s=0)

    async def compute() -> dict[str, Counts]:
        return ONE

    async def scenario() -> None:
        for _ in range(3):
            await cache.get("all", compute)

    asyncio.run(scenario())
    assert cache.computed == 3
