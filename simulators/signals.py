"""Signal models: what a simulated device measures, as canonical values and a pure function of time.

Owns the traffic and water families — :class:`TrafficSignal`, :class:`WaterSignal` — beside the
electric ones of :mod:`simulators.power` (:class:`PowerSignal`, :class:`SolarSignal`,
:class:`StreetlightSignal`), and :func:`signal_for`,
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
from simulators.power import PowerSignal, SolarSignal, StreetlightSignal
from simulators.waves import (
    Bump,
    DailyProfile,
    Drift,
    Wave,
    ambient_c,
    draw,
    local_hour,
    unit,
)

# --- shared daily shapes (a city's rhythm is the same for every device; devices differ in scale) ---

#: Traffic demand as a share of capacity: night, a day plateau, morning (7-9 h) and evening
#: (16:30-18:30 h) rush hours.
TRAFFIC_DEMAND = DailyProfile(
    base=0.06,
    bumps=(Bump(13.0, 4.5, 0.30), Bump(8.0, 0.55, 0.52), Bump(17.5, 0.6, 0.55), Bump(2.0, 1.5, -0.03)),
)
#: Water demand relative to the daily mean (before normalising): morning and evening peaks.
WATER_DEMAND = DailyProfile(
    base=0.45, bumps=(Bump(6.75, 1.0, 0.95), Bump(11.5, 1.5, 0.30), Bump(18.75, 1.3, 0.85))
)


def device_key(device: str) -> int:
    """A stable 64-bit integer for a device id (BLAKE2b; Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(device.encode(), digest_size=8).digest(), "big")


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
        object.__setattr__(self, "free_speed", draw(k, 2, 45.0, 75.0))
        object.__setattr__(self, "scale", draw(k, 3, 0.75, 1.0))
        object.__setattr__(self, "queue_max_m", draw(k, 4, 120.0, 400.0))
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
        object.__setattr__(self, "mean_flow", draw(k, 1, 20.0, 200.0))
        object.__setattr__(self, "volume0", draw(k, 2, 1e4, 5e6))
        object.__setattr__(self, "static_bar", draw(k, 3, 3.0, 3.8))
        object.__setattr__(self, "drop_bar", draw(k, 4, 0.7, 1.4))
        object.__setattr__(self, "tank_mid_m", draw(k, 5, 2.5, 4.5))
        object.__setattr__(self, "tank_swing_m", draw(k, 6, 0.6, 1.2))
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
            "water_temperature": ambient_c(t - 6 * 3600.0) * 0.9 + 2.0,
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
