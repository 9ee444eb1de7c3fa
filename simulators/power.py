"""Electric signal models: feeders and transformers, solar plants, street lights (see ``signals``).

Owns :class:`PowerSignal`, :class:`SolarSignal` and :class:`StreetlightSignal`: canonical values as
a pure function of time, per-device parameters drawn from ``(seed, device id)``, like every family
of :mod:`simulators.signals`, which picks among them. Documented in docs/load-testing.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulators.waves import (
    DAY_S,
    REF_EPOCH,
    Bump,
    DailyProfile,
    Drift,
    Wave,
    ambient_c,
    day_of_year,
    draw,
    local_hour,
    unit,
)

#: Electric load as a share of the peak: night trough, a working-day plateau, the evening peak.
ELECTRIC_LOAD = DailyProfile(
    base=0.34, bumps=(Bump(7.0, 1.0, 0.10), Bump(12.5, 3.8, 0.30), Bump(19.5, 1.7, 0.40))
)
# Vietnam around 21° N: sunrise ~05:45, sunset ~18:15 local (the seasons' ±40 min are ignored).
SUNRISE_H, SUNSET_H = 5.75, 18.25
_FREQ_PERIODS_S = (170.0, 1030.0, 4700.0)

def _frequency(wave: Wave, t: float) -> float:
    return 50.0 + wave.value(t)


@dataclass(frozen=True, slots=True)
class PowerSignal:
    """A three-phase feeder or distribution transformer: daily load, sag, power factor, energy.

    Power is ``peak·(load profile + wobble)``; the energy register is its exact integral, so it only
    grows. Voltage sags with load, power factor improves with it, frequency wanders around 50 Hz and
    the transformer's top oil follows the load of an hour and a half earlier (thermal lag).
    """

    metrics: tuple[str, ...]
    keys: tuple[int, int]
    transformer: bool
    peak_kw: float = field(init=False)
    rated_kva: float = field(init=False)
    energy0_kwh: float = field(init=False)
    volts0: tuple[float, float, float] = field(init=False)
    sag_v: float = field(init=False)
    imbalance: tuple[float, float, float] = field(init=False)
    wobble: Wave = field(init=False)
    freq: Wave = field(init=False)

    def __post_init__(self) -> None:
        k = self.keys
        rated = (250.0, 400.0, 630.0)[int(unit(*k, 1) * 3)]
        object.__setattr__(self, "rated_kva", rated)
        peak = rated * draw(k, 2, 0.55, 0.9) if self.transformer else draw(k, 2, 12.0, 45.0)
        object.__setattr__(self, "peak_kw", peak)
        object.__setattr__(self, "energy0_kwh", draw(k, 3, 1e3, 5e5))
        object.__setattr__(self, "volts0", tuple(draw(k, 4 + i, 233.0, 238.0) for i in range(3)))
        object.__setattr__(self, "sag_v", draw(k, 7, 6.0, 14.0))
        raw = [draw(k, 8 + i, 0.9, 1.1) for i in range(3)]
        object.__setattr__(self, "imbalance", tuple(3 * r / sum(raw) for r in raw))
        object.__setattr__(self, "wobble", Wave.seeded((*k, 11), 0.05, (900.0, 3600.0, 13000.0)))
        object.__setattr__(self, "freq", Wave.seeded((*k, 12), 0.045, _FREQ_PERIODS_S))

    def load(self, t: float) -> float:
        """Load as a share of the peak (always > 0.25)."""
        return ELECTRIC_LOAD.value(t) + self.wobble.value(t)

    def energy_kwh(self, t: float) -> float:
        """The import register: ``energy0 + ∫ power dt`` (exact, strictly increasing)."""
        integral = ELECTRIC_LOAD.integral(t) + self.wobble.integral(t)
        return self.energy0_kwh + self.peak_kw * integral / 3600.0

    def values(self, t: float) -> dict[str, float]:
        """Canonical values of the model's metrics at ``t``."""
        load = self.load(t)
        p = self.peak_kw * load
        pf = 0.86 + 0.11 * min(1.0, load)
        q = p * math.tan(math.acos(pf))
        volts = [v0 - self.sag_v * load for v0 in self.volts0]
        every = {
            "active_power": p,
            "reactive_power": q,
            "power_factor": pf,
            "frequency": _frequency(self.freq, t),
            "voltage_l1": volts[0],
            "voltage_l2": volts[1],
            "voltage_l3": volts[2],
        }
        if "active_energy_import" in self.metrics:
            every["active_energy_import"] = self.energy_kwh(t)
        if "current_l1" in self.metrics:
            for i in range(3):
                every[f"current_l{i + 1}"] = p * 1000.0 / 3.0 / (volts[i] * pf) * self.imbalance[i]
        if self.transformer:
            every["transformer_load"] = 100.0 * (p / pf) / self.rated_kva
            lagged = self.load(t - 5400.0) * self.peak_kw / pf / self.rated_kva
            # IEC 60076-7 top-oil rise: 55 K at rated load, loss ratio R = 6, oil exponent 0.8.
            every["transformer_oil_temperature"] = ambient_c(t) + 55.0 * ((lagged**2 * 6 + 1) / 7) ** 0.8
        return {m: every[m] for m in self.metrics}


@dataclass(frozen=True, slots=True)
class SolarSignal:
    """A rooftop PV inverter: a clear-sky bell from sunrise to sunset under drifting clouds.

    The lifetime register integrates the clear-sky power times the clouds' mean (0.75), exactly, so
    it only grows and tracks the reported power on average, not instant by instant.
    """

    metrics: tuple[str, ...]
    keys: tuple[int, int]
    capacity_kw: float = field(init=False)
    g_max: float = field(init=False)
    energy0_kwh: float = field(init=False)
    clouds: Drift = field(init=False)
    freq: Wave = field(init=False)

    def __post_init__(self) -> None:
        k = self.keys
        object.__setattr__(self, "capacity_kw", draw(k, 1, 30.0, 50.0))
        object.__setattr__(self, "g_max", draw(k, 2, 900.0, 1050.0))
        object.__setattr__(self, "energy0_kwh", draw(k, 3, 1e4, 3e5))
        object.__setattr__(self, "clouds", Drift((*k, 4), 1800.0))
        object.__setattr__(self, "freq", Wave.seeded((*k, 5), 0.045, _FREQ_PERIODS_S))

    def _bell(self, h: float) -> float:
        if h <= SUNRISE_H or h >= SUNSET_H:
            return 0.0
        return math.sin(math.pi * (h - SUNRISE_H) / (SUNSET_H - SUNRISE_H))

    def _bell_integral_h(self, h: float) -> float:
        span = SUNSET_H - SUNRISE_H
        frac = min(1.0, max(0.0, (h - SUNRISE_H) / span))
        return span / math.pi * (1.0 - math.cos(math.pi * frac))

    def energy_kwh(self, t: float) -> float:
        """``energy0 + ∫ clear-sky power × 0.75`` (exact, never decreasing)."""
        days = math.floor((t - REF_EPOCH) / DAY_S)  # REF_EPOCH is a local midnight
        hours = days * self._bell_integral_h(24.0) + self._bell_integral_h(local_hour(t))
        return self.energy0_kwh + 0.9 * self.capacity_kw * self.g_max / 1000.0 * 0.75 * hours

    def values(self, t: float) -> dict[str, float]:
        """Canonical values of the model's metrics at ``t``."""
        clouds = 0.75 + 0.25 * self.clouds.value(t)  # 0.5 (overcast) .. 1.0 (clear)
        g = self.g_max * self._bell(local_hour(t)) * clouds
        every = {
            "solar_irradiance": g,
            "pv_power": min(self.capacity_kw, 0.9 * self.capacity_kw * g / 1000.0),
            "pv_energy_total": self.energy_kwh(t),
            "frequency": _frequency(self.freq, t),
        }
        return {m: every[m] for m in self.metrics}


@dataclass(frozen=True, slots=True)
class StreetlightSignal:
    """A street-light node: lit from dusk to dawn, dimmed to 60 % from 22:00 to 04:30; PM2.5 nearby.

    Energy is the exact integral of the dimming schedule's power (rated power x level, 0.4 W
    standby in the day).
    """

    metrics: tuple[str, ...]
    keys: tuple[int, int]
    rated_w: float = field(init=False)
    dusk_h: float = field(init=False)
    dawn_h: float = field(init=False)
    energy0_kwh: float = field(init=False)
    volts: Wave = field(init=False)
    air: Drift = field(init=False)
    segments: tuple[tuple[float, float, float], ...] = field(init=False)  # (from h, to h, level 0..1)
    day_wh: float = field(init=False)

    def __post_init__(self) -> None:
        k = self.keys
        object.__setattr__(self, "rated_w", draw(k, 1, 60.0, 250.0))
        object.__setattr__(self, "dusk_h", SUNSET_H + draw(k, 2, -0.1, 0.2))  # photocells differ a little
        object.__setattr__(self, "dawn_h", SUNRISE_H + draw(k, 3, -0.2, 0.1))
        object.__setattr__(self, "energy0_kwh", draw(k, 4, 100.0, 3000.0))
        object.__setattr__(self, "volts", Wave.seeded((*k, 5), 3.0, (400.0, 5000.0)))
        object.__setattr__(self, "air", Drift((*k, 6), 3 * 3600.0))
        segments = ((0.0, 4.5, 0.6), (4.5, self.dawn_h, 1.0), (self.dawn_h, self.dusk_h, 0.0),
                    (self.dusk_h, 22.0, 1.0), (22.0, 24.0, 0.6))  # fmt: skip
        object.__setattr__(self, "segments", segments)
        object.__setattr__(self, "day_wh", self._wh_today(24.0))

    def _watts(self, level: float) -> float:
        return self.rated_w * level if level > 0 else 0.4

    def level(self, h: float) -> float:
        """Dimming level (0..1) at local hour ``h``."""
        for start, end, level in self.segments:
            if start <= h < end:
                return level
        return 0.6

    def _wh_today(self, h: float) -> float:
        return sum(self._watts(lv) * max(0.0, min(h, e) - s) for s, e, lv in self.segments)

    def energy_kwh(self, t: float) -> float:
        """The luminaire's register: ``energy0 + ∫ power dt`` (exact, never decreasing)."""
        days = math.floor((t - REF_EPOCH) / DAY_S)  # REF_EPOCH is a local midnight
        return self.energy0_kwh + (days * self.day_wh + self._wh_today(local_hour(t))) / 1000.0

    def values(self, t: float) -> dict[str, float]:
        """Canonical values of the model's metrics at ``t``."""
        h = local_hour(t)
        level = self.level(h)
        winter = 1.0 + 0.5 * math.cos(2 * math.pi * (day_of_year(t) - 15.0) / 365.2425)
        rush = 12.0 * math.exp(-0.5 * ((h - 8.0) / 1.2) ** 2)
        rush += 14.0 * math.exp(-0.5 * ((h - 18.5) / 1.5) ** 2)
        every = {
            "streetlight_on": 1.0 if level > 0 else 0.0,
            "streetlight_dim_level": 100.0 * level,
            "streetlight_power": self._watts(level),
            "streetlight_energy_total": self.energy_kwh(t),
            "voltage": 226.0 + self.volts.value(t) - 3.0 * level,
            "pm2_5": max(3.0, (32.0 + 12.0 * self.air.value(t) + rush) * winter),
        }
        return {m: every[m] for m in self.metrics}
