"""How many dead letters one device may store: a budget per window, a sample beyond it.

One device (or, before a device is known, one topic) may store ``budget`` dead letters per
``window_s`` seconds; beyond that only every ``sample``-th is stored. Every rejection is still
counted (``hatang_ingest_rejections_total``); those not stored are counted in
``hatang_ingest_dead_letters_unstored_total``. Measured against one flooding device (200 malformed
70 KB messages in 0.23 s stored 10 MB of dead letters), the default keeps what it can store to about
``budget`` letters an hour plus 1%.

Pure: times come from the deliveries, nothing here reads a clock. Memory is bounded by the keys seen
in one window (the map is cleared when a window ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DeadLetterBudget:
    """Admits dead letters per key: ``budget`` per window, then one in ``sample``."""

    budget: int
    window_s: float
    sample: int
    _window_start: float = field(default=float("-inf"), init=False)
    _counts: dict[int | str, int] = field(default_factory=dict, init=False)

    def admit(self, key: int | str, at: float) -> bool:
        """Whether the dead letter of ``key`` received at ``at`` is stored (counts it either way)."""
        if at - self._window_start >= self.window_s:
            self._window_start, self._counts = at, {}
        seen = self._counts.get(key, 0) + 1
        self._counts[key] = seen
        return seen <= self.budget or (seen - self.budget) % self.sample == 0
