"""Live readiness counts kept for a few seconds per scope, and computed once for concurrent callers.

Owns :class:`LiveCountsCache`. Live readiness aggregates every essential asset and active device of
its scope (docs/readiness.md, "Performance"): at a city's size that is work per request which the
answer does not need, since readiness moves over hours (a 24-hour window, ``last_seen`` itself
written at a granularity of a minute). The API process keeps one of these: an answer is reused for
``ttl_s`` seconds, and requests arriving while it is being computed wait for that one computation
instead of starting their own. A failed computation is not kept. Holds no connection; the caller's
``compute`` does the I/O.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable

from registry.readiness.core import Counts

LiveCounts = dict[str, Counts]


class LiveCountsCache:
    """Scope key -> (computed at, counts), fresh for ``ttl_s``; one computation per key at a time."""

    def __init__(self, *, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, LiveCounts]] = {}
        self._running: dict[Hashable, asyncio.Future[LiveCounts]] = {}
        self.computed = 0

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[LiveCounts]]) -> LiveCounts:
        """The counts of ``key``: kept ones while fresh, else those of one (shared) ``compute()``."""
        if self.ttl_s <= 0:
            self.computed += 1
            return await compute()
        kept = self._kept.get(key)
        if kept is not None and self._clock() - kept[0] < self.ttl_s:
            return kept[1]
        running = self._running.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[LiveCounts] = asyncio.get_running_loop().create_future()
        self._running[key] = future
        started = self._clock()
        try:
            counts = await compute()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        else:
            self.computed += 1
            self._kept[key] = (started, counts)
            future.set_result(counts)
            return counts
        finally:
            del self._running[key]
