"""Signal models: what a simulated device measures, as canonical values and a pure function of time.

Owns one signal family per infrastructure kind — :class:`TrafficSignal`, :class:`PowerSignal`,
:class:`SolarSignal`, :class:`WaterSignal`, :class:`StreetlightSignal` — and :func:`signal_for`,
which picks the family by the device model's sector and checks it covers every metric the model
measures. ``values(t)`` returns canonical values (the catalogue's units) for the model's metrics;
turning them into a device's own units is the contracts' encoders' job, never this module's.
Per-device parameters come from ``(seed, device id)``, so a seed reproduces a fleet exactly.
Documented in docs/load-testing.md ("Signal models").
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from functools import cache, lru_cache

from firmware_contracts import DeviceModel
from simulators.errors import SignalError
from simulators.waves import DAY_S, REF_EPOCH, Bump, DailyProfile, Drift, Wave, day_of_year, local_hour, unit

# --- shared daily shapes (a city's rhythm is the same for every device; devices differ in scale) ---

#: Traffic demand as a share of capacity: night, a day plateau, morning (7-9 h) and evening
#: (16:30-18:30 h) rush hours.
TRAFFIC_DEMAND = DailyProfile(
    base=0.06,
    bumps=(Bump(13.0, 4.5, 0.30), Bump(8.0, 0.55, 0.52), Bump(17.5, 0.6, 0.55), Bump(2.0, 1.5, -0.03)),
)
#: Electric load as a share of the peak: night trough, a working-day plateau, the evening peak.
ELECTRIC_LOAD = DailyProfile(
    base=0.34, bumps=(Bump(7.0, 1.0, 0.10), Bump(12.5, 3.8, 0.30), Bump(19.5, 1.7, 0.40))
)
#: Water demand relative to the daily mean (before normalising): morning and evening peaks.
WATER_DEMAND = DailyProfile(
    base=0.45, bumps=(Bump(6.75, 1.0, 0.95), Bump(11.5, 1.5, 0.30), Bump(18.75, 1.3, 0.85))
)
# Vietnam around 21° N: sunrise ~05:45, sunset ~18:15 local (the seasons' ±40 min are ignored).
SUNRISE_H, SUNSET_H = 5.75, 18.25
_FREQ_PERIODS_S = (170.0, 1030.0, 4700.0)


def device_key(device: str) -> int:
    """A stable 64-bit integer for a device id (BLAKE2b; Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(device.encode(), digest_size=8).digest(), "big")


def _u(keys: tuple[int, int], tag: int, low: float, high: float) -> float:
    return low + (high - low) * unit(*keys, tag)


@cache
def _water_peak() -> float:
    return max(WATER_DEMAND.at_hour(h / 10.0) for h in range(240)) / WATER_DEMAND.daily_mean()


def _tank_net_s(t: float) -> float:
    # ∫(1 - demand/mean) dt since local midnight: seconds of mean demand the tank gained (0 at midnight).
    return local_hour(t) * 3600.0 - WATER_DEMAND.integral_today(t) / WATER_DEMAND.daily_mean()


@cache
def _tank_swing() -> float:
    # Largest |net| over a day (sampled every 6 min): scales the tank's level swing to its metres.
    return max(abs(_tank_net_s(h * 360.0)) for h in range(241))


def _ambient_c(t: float) -> float:
    # Air temperature in Bắc Ninh: ~24 °C in January, ~30 °C in July; 5 K daily swing peaking at 14 h.
    seasonal = 27.0 - 3.5 * math.cos(2 * math.pi * (day_of_year(t) - 15.0) / 365.2425)
    return seasonal + 2.5 * math.sin(2 * math.pi * (local_hour(t) - 8.0) / 24.0)


def _frequency(wave: Wave, t: float) -> float:
    return 50.0 + wave.value(t)


@dataclass(frozen=True, slots=True)
class TrafficSignal:
    """A signalised approach: demand with rush hours, speed falling as flow rises (Greenshields).

    Flow ``q = x·q_c`` for demand ratio ``x`` < 1; speed on the uncongested branch of
    Greenshields' relation ``v = v_f/2·(1 + sqrt(1 - x))`` (strictly falling in ``x``); density
    ``q/v`` gives occupancy (jam density = 100 %), ``3600/q`` per lane the headway, and a queue
    forms when ``x`` exceeds 0.6.
    """

    metrics: tuple[str, ...]
    interval_s: float
    keys: tuple[int, int]
    lanes: int = field(init=False)
    free_speed: float = field(init=False)  # km/h
    scale: float = field(init=False)
    queue_max_m: float = field(init=False)
    wobble: Wave = field(init=False)

    def __post_init__(self) -> None:
        k = self.keys
        object.__setattr__(self, "lanes", 1 + int(unit(*k, 1) * 3))
        object.__setattr__(self, "free_speed", _u(k, 2, 45.0, 75.0))
        object.__setattr__(self, "scale", _u(k, 3, 0.75, 1.0))
        object.__setattr__(self, "queue_max_m", _u(k, 4, 120.0, 400.0))
        object.__setattr__(self, "wobble", Wave.seeded((*k, 5), 0.04, (600.0, 2700.0, 9000.0)))

    def demand(self, t: float) -> float:
        """Demand as a share of capacity, in [0.02, 0.95]."""
        return min(0.95, max(0.02, self.scale * TRAFFIC_DEMAND.value(t) + self.wobble.value(t)))

    def values(self, t: float) -> dict[str, float]:
        """Canonical values of the model's metrics at ``t``."""
        x = self.demand(t)
        capacity_lane = self.free_speed * 150.0 / 4.0  # veh/h: v_f·k_jam/4, k_jam = 150 veh/km
        q_lane = x * capacity_lane
        speed = self.free_speed / 2.0 * (1.0 + math.sqrt(1.0 - x))
        q = q_lane * self.lanes
        every = {
            "traffic_flow": q,
            "traffic_vehicle_count": float(round(q * self.interval_s / 3600.0)),
            "traffic_speed_mean": speed,
            "traffic_occupancy": 100.0 * (q_lane / speed) / 150.0,
            "traffic_headway_mean": min(3600.0, 3600.0 / q_lane),
            "traffic_queue_length": max(0.0, (x - 0.6) / 0.35) * self.queue_max_m,
        }
        return {m: every[m] for m in self.metrics}


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
        if self.transformer:
            peak = rated * _u(k, 2, 0.55, 0.9)
        elif "current" in self.metrics:  # a single-phase service: a household or a roadside cabinet
            peak = _u(k, 2, 1.5, 6.0)
        else:
            peak = _u(k, 2, 12.0, 45.0)
        object.__setattr__(self, "peak_kw", peak)
        object.__setattr__(self, "energy0_kwh", _u(k, 3, 1e3, 5e5))
        object.__setattr__(self, "volts0", tuple(_u(k, 4 + i, 233.0, 238.0) for i in range(3)))
        object.__setattr__(self, "sag_v", _u(k, 7, 6.0, 14.0))
        raw = [_u(k, 8 + i, 0.9, 1.1) for i in range(3)]
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
            "voltage": volts[0],
        }
        if "active_energy_import" in self.metrics:
            every["active_energy_import"] = self.energy_kwh(t)
        if "current" in self.metrics:
            every["current"] = p * 1000.0 / (volts[0] * pf)
        if "current_l1" in self.metrics:
            for i in range(3):
                every[f"current_l{i + 1}"] = p * 1000.0 / 3.0 / (volts[i] * pf) * self.imbalance[i]
        if self.transformer:
            every["transformer_load"] = 100.0 * (p / pf) / self.rated_kva
            lagged = self.load(t - 5400.0) * self.peak_kw / pf / self.rated_kva
            # IEC 60076-7 top-oil rise: 55 K at rated load, loss ratio R = 6, oil exponent 0.8.
            every["transformer_oil_temperature"] = _ambient_c(t) + 55.0 * ((lagged**2 * 6 + 1) / 7) ** 0.8
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
        object.__setattr__(self, "capacity_kw", _u(k, 1, 30.0, 50.0))
        object.__setattr__(self, "g_max", _u(k, 2, 900.0, 1050.0))
        object.__setattr__(self, "energy0_kwh", _u(k, 3, 1e4, 3e5))
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
class WaterSignal:
    """A supply network node: demand peaks, pressure against flow, a tank, quality drift, turbidity.

    Flow follows the city's demand (morning and evening peaks); the totaliser is its exact
    integral. Pressure drops with flow squared (head loss). A service reservoir filled at the mean
    demand and drained by the actual one rises at night and falls at the peaks. pH and chlorine
    drift slowly and come back; turbidity has rare events (a burst main, a storm) that rise in 20
    minutes and decay over hours, consuming chlorine while they last.
    """

    metrics: tuple[str, ...]
    keys: tuple[int, int]
    mean_flow: float = field(init=False)  # m3/h
    volume0: float = field(init=False)
    static_bar: float = field(init=False)
    drop_bar: float = field(init=False)
    tank_mid_m: float = field(init=False)
    tank_swing_m: float = field(init=False)
    wobble: Wave = field(init=False)
    ph: Drift = field(init=False)
    chlorine: Drift = field(init=False)
    turbidity: Drift = field(init=False)

    def __post_init__(self) -> None:
        k = self.keys
        object.__setattr__(self, "mean_flow", _u(k, 1, 20.0, 200.0))
        object.__setattr__(self, "volume0", _u(k, 2, 1e4, 5e6))
        object.__setattr__(self, "static_bar", _u(k, 3, 3.0, 3.8))
        object.__setattr__(self, "drop_bar", _u(k, 4, 0.7, 1.4))
        object.__setattr__(self, "tank_mid_m", _u(k, 5, 2.5, 4.5))
        object.__setattr__(self, "tank_swing_m", _u(k, 6, 0.6, 1.2))
        object.__setattr__(self, "wobble", Wave.seeded((*k, 7), 0.04, (700.0, 3100.0)))
        object.__setattr__(self, "ph", Drift((*k, 8), 3 * 3600.0))
        object.__setattr__(self, "chlorine", Drift((*k, 9), 2 * 3600.0))
        object.__setattr__(self, "turbidity", Drift((*k, 10), 3600.0))

    def demand(self, t: float) -> float:
        """Demand relative to the daily mean (mean 1)."""
        return WATER_DEMAND.value(t) / WATER_DEMAND.daily_mean() + self.wobble.value(t)

    def turbidity_event(self, t: float) -> float:
        """NTU added by events: each 6-hour slot has a 6 % chance of one (pure function of ``t``)."""
        now = math.floor(t / _EVENT_SLOT_S)
        total = 0.0
        for slot in (now - 2, now - 1, now):
            event = _turbidity_event(self.keys, slot)
            if event is None or t < event[0]:
                continue
            age = t - event[0]
            total += event[1] * (age / 1200.0 if age < 1200.0 else math.exp(-(age - 1200.0) / 5400.0))
        return total

    def values(self, t: float) -> dict[str, float]:
        """Canonical values of the model's metrics at ``t``."""
        d = self.demand(t)
        every: dict[str, float] = {
            "water_flow": self.mean_flow * d,
            "water_pressure": self.static_bar - self.drop_bar * (d / _water_peak()) ** 2,
            "water_temperature": _ambient_c(t - 6 * 3600.0) * 0.9 + 2.0,
        }
        if "water_volume_total" in self.metrics:
            integral = WATER_DEMAND.integral(t) / WATER_DEMAND.daily_mean() + self.wobble.integral(t)
            every["water_volume_total"] = self.volume0 + self.mean_flow * integral / 3600.0
        if "water_level" in self.metrics:
            # Filled at the mean demand, drained by the actual one: ∫(1 - demand) since midnight.
            every["water_level"] = self.tank_mid_m + self.tank_swing_m * _tank_net_s(t) / _tank_swing()
        if "water_turbidity" in self.metrics or "water_free_chlorine" in self.metrics:
            event = self.turbidity_event(t)
            every["water_turbidity"] = 0.45 + 0.25 * self.turbidity.value(t) + event
            every["water_free_chlorine"] = max(0.05, 0.55 + 0.15 * self.chlorine.value(t) - 0.002 * event)
            every["water_ph"] = 7.2 + 0.3 * self.ph.value(t) - 0.001 * event
        return {m: every[m] for m in self.metrics}


_EVENT_SLOT_S = 6 * 3600.0


@lru_cache(maxsize=1 << 16)
def _turbidity_event(keys: tuple[int, int], slot: int) -> tuple[float, float] | None:
    # (start epoch s, peak NTU) of the slot's event, if it has one.
    if unit(*keys, 20, slot) >= 0.06:
        return None
    return ((slot + unit(*keys, 21, slot)) * _EVENT_SLOT_S, 15.0 + 150.0 * unit(*keys, 22, slot))


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
        object.__setattr__(self, "rated_w", _u(k, 1, 60.0, 250.0))
        object.__setattr__(self, "dusk_h", SUNSET_H + _u(k, 2, -0.1, 0.2))  # photocells differ a little
        object.__setattr__(self, "dawn_h", SUNRISE_H + _u(k, 3, -0.2, 0.1))
        object.__setattr__(self, "energy0_kwh", _u(k, 4, 100.0, 3000.0))
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


Signal = TrafficSignal | PowerSignal | SolarSignal | WaterSignal | StreetlightSignal


def signal_for(model: DeviceModel, *, seed: int, device: str) -> Signal:
    """The signal model of one device of ``model``, parametrised by ``(seed, device)``.

    Raises :class:`SignalError` when the family of the model's sector does not produce one of
    its metrics (a new model needs its family extended first).
    """
    metrics = tuple(spec.metric for spec in model.fields)
    keys = (seed, device_key(device))
    signal: Signal
    if model.sector == "transport":
        signal = TrafficSignal(metrics, model.reporting_interval_s, keys)
    elif model.sector == "electricity":
        signal = PowerSignal(metrics, keys, transformer="transformer_load" in metrics)
    elif model.sector == "energy":
        signal = SolarSignal(metrics, keys)
    elif model.sector == "water":
        signal = WaterSignal(metrics, keys)
    elif model.sector == "urban":
        signal = StreetlightSignal(metrics, keys)
    else:
        raise SignalError(f"no signal family for sector {model.sector!r}", model=model.id, metric=None)
    try:
        signal.values(0.0)
    except KeyError as exc:
        raise SignalError(
            f"{model.id} measures {exc.args[0]!r}, which the {model.sector} signal does not produce",
            model=model.id,
            metric=str(exc.args[0]),
        ) from None
    return signal
