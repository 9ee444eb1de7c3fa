"""Deterministic building blocks of the signal models: hashed noise, daily profiles, sums of sines.

Owns :func:`unit` (a seeded hash to [0, 1)), :class:`DailyProfile` (a constant plus Gaussian bumps
on the local 24-hour clock, with its exact time integral), :class:`Wave` (a sum of sinusoids with its
exact integral) and :class:`Drift` (smooth, mean-reverting value noise). Every value is a pure
function of its arguments: no clock, no global random state, so a seed reproduces a signal at any
instant without replaying history. It must not know about metrics or devices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, lru_cache

#: Viet Nam's offset from UTC (no daylight saving time).
LOCAL_OFFSET_S = 7 * 3600
DAY_S = 86400.0
#: Registers (energy, volume) count from here: 2024-01-01 00:00 in Viet Nam.
REF_EPOCH = 1704042000.0
_MASK = (1 << 64) - 1
_SQRT2 = math.sqrt(2.0)


def _splitmix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def unit(*keys: int) -> float:
    """A uniform number in [0, 1) determined by the integer ``keys`` (splitmix64 over them)."""
    h = 0
    for k in keys:
        h = _splitmix(h ^ (k & _MASK))
    return (h >> 11) / float(1 << 53)


def local_hour(t: float) -> float:
    """Hour of the day in [0, 24) on Viet Nam's clock for epoch seconds ``t``."""
    return ((t + LOCAL_OFFSET_S) % DAY_S) / 3600.0


def day_of_year(t: float) -> float:
    """Fractional day of the year (0 = 1 January), close enough for seasonal shapes."""
    return ((t + LOCAL_OFFSET_S) / DAY_S) % 365.2425


@dataclass(frozen=True, slots=True)
class Bump:
    """A Gaussian bump on the daily clock: centre and width in hours, height in profile units."""

    centre_h: float
    width_h: float
    height: float


@dataclass(frozen=True, slots=True)
class DailyProfile:
    """``base + Σ height·exp(-(h - centre)²/2width²)`` over local time, repeating every day.

    Bumps are evaluated at the nearest of the centre's three daily copies, so a bump near
    midnight wraps smoothly. :meth:`integral` is exact (error functions), so quantities that
    accumulate the profile (energy, volume, a tank's level) are its true integral.
    """

    base: float
    bumps: tuple[Bump, ...]

    def at_hour(self, h: float) -> float:
        """The profile at local hour ``h``."""
        total = self.base
        for b in self.bumps:
            d = h - b.centre_h
            if d > 12.0:
                d -= 24.0
            elif d < -12.0:
                d += 24.0
            total += b.height * math.exp(-0.5 * (d / b.width_h) ** 2)
        return total

    def value(self, t: float) -> float:
        """The profile at epoch seconds ``t``."""
        return self.at_hour(local_hour(t))

    def _hours_integral(self, h: float) -> float:
        # ∫_0^h profile(x) dx in profile-units × hours, for 0 <= h <= 24 (bumps summed over copies).
        total = self.base * h
        for b in self.bumps:
            scale = b.height * b.width_h * math.sqrt(math.pi / 2.0)
            reach = 6.0 * b.width_h  # beyond six widths erf is ±1 to double precision
            for shift in (-24.0, 0.0, 24.0):
                c = b.centre_h + shift
                if (h < c - reach and c - reach > 0.0) or (h > c + reach and c + reach < 0.0):
                    continue
                w = _SQRT2 * b.width_h
                total += scale * (math.erf((h - c) / w) - math.erf(-c / w))
        return total

    def daily_mean(self) -> float:
        """Mean of the profile over a day."""
        return _day_integral_h(self) / 24.0

    def integral(self, t: float) -> float:
        """``∫ profile dt`` from :data:`REF_EPOCH` to ``t``, in profile-units × s."""
        local = t - REF_EPOCH  # REF_EPOCH is a local midnight
        days = math.floor(local / DAY_S)
        within_h = (local - days * DAY_S) / 3600.0
        return (days * _day_integral_h(self) + self._hours_integral(within_h)) * 3600.0

    def integral_today(self, t: float) -> float:
        """``∫ profile dt`` from today's local midnight to ``t``, in profile-units × s."""
        return self._hours_integral(local_hour(t)) * 3600.0


@cache
def _day_integral_h(profile: DailyProfile) -> float:
    return profile._hours_integral(24.0)


@dataclass(frozen=True, slots=True)
class Wave:
    """``Σ amp·sin(2πt/period + phase)``: zero-mean wobble with an exact, bounded integral."""

    terms: tuple[tuple[float, float, float], ...]  # (amplitude, period_s, phase)

    @classmethod
    def seeded(cls, keys: tuple[int, ...], amplitude: float, periods_s: tuple[float, ...]) -> Wave:
        """A wave whose total amplitude is ``amplitude``, split over ``periods_s`` with seeded phases."""
        share = amplitude / len(periods_s)
        return cls(
            tuple(
                (share, p * (0.8 + 0.4 * unit(*keys, i, 1)), 2 * math.pi * unit(*keys, i, 2))
                for i, p in enumerate(periods_s)
            )
        )

    @property
    def amplitude(self) -> float:
        """The largest absolute value the wave can take."""
        return sum(abs(a) for a, _, _ in self.terms)

    def value(self, t: float) -> float:
        """The wave at epoch seconds ``t``."""
        return sum(a * math.sin(2 * math.pi * t / p + ph) for a, p, ph in self.terms)

    def integral(self, t: float) -> float:
        """An antiderivative of the wave (bounded: |·| <= Σ amp·period/π)."""
        return sum(-a * p / (2 * math.pi) * math.cos(2 * math.pi * t / p + ph) for a, p, ph in self.terms)


@dataclass(frozen=True, slots=True)
class Drift:
    """Smooth value noise in [-1, 1]: seeded knots every ``step_s``, smoothstep between them.

    It wanders and always comes back (the knots are independent), which is what a slowly drifting,
    mean-reverting quantity such as pH or chlorine looks like between calibrations.
    """

    keys: tuple[int, ...]
    step_s: float

    def value(self, t: float) -> float:
        """The drift at epoch seconds ``t``."""
        x = t / self.step_s
        k = math.floor(x)
        u = x - k
        s = u * u * (3.0 - 2.0 * u)
        a = _knot(self.keys, k)
        b = _knot(self.keys, k + 1)
        return a + (b - a) * s


@lru_cache(maxsize=1 << 17)
def _knot(keys: tuple[int, ...], k: int) -> float:
    return 2.0 * unit(*keys, k) - 1.0


def draw(keys: tuple[int, int], tag: int, low: float, high: float) -> float:
    """A per-device parameter in ``[low, high)``, fixed by ``keys`` (seed, device) and ``tag``."""
    return low + (high - low) * unit(*keys, tag)


def ambient_c(t: float) -> float:
    """Air temperature in Bắc Ninh at ``t``: ~24 °C in January, ~30 °C in July; 5 K daily swing
    peaking at 14 h."""
    seasonal = 27.0 - 3.5 * math.cos(2 * math.pi * (day_of_year(t) - 15.0) / 365.2425)
    return seasonal + 2.5 * math.sin(2 * math.pi * (local_hour(t) - 8.0) / 24.0)
