"""The metric catalogue: required metrics, known units, sane ranges and FIWARE mappings."""

from __future__ import annotations

import pytest

from firmware_contracts import ContractError, load_catalogue, sectors
from firmware_contracts.catalogue import parse_catalogue
from firmware_contracts.units import check_unit

REQUIRED = {
    "traffic_vehicle_count": "count",
    "traffic_flow": "/h",
    "traffic_speed_mean": "km/h",
    "traffic_occupancy": "%",
    "traffic_queue_length": "m",
    "voltage": "V",
    "current_l1": "A",
    "active_power": "kW",
    "reactive_power": "kvar",
    "active_energy_import": "kWh",
    "power_factor": "/",
    "frequency": "Hz",
    "water_flow": "m3/h",
    "water_pressure": "bar",
    "water_level": "m",
    "water_ph": "pH",
    "water_turbidity": "NTU",
    "water_free_chlorine": "mg/L",
    "water_temperature": "Cel",
    "streetlight_on": "/",
    "streetlight_power": "W",
    "pm2_5": "ug/m3",
}


def test_required_metrics_and_units() -> None:
    catalogue = load_catalogue()
    for name, unit in REQUIRED.items():
        assert catalogue[name].unit == unit, name


def test_every_metric_is_well_formed() -> None:
    catalogue = load_catalogue()
    # The plan's five (Kế hoạch 333/KH-UBND, II.2); a later plan's sector comes with its metrics.
    assert sectors() == {m.sector for m in catalogue.values()}
    assert sectors() == {"transport", "energy", "electricity", "water", "urban"}
    for name, metric in catalogue.items():
        assert metric.name == name
        assert metric.min < metric.max
        assert metric.description
        check_unit(metric.unit, name)


def test_fiware_mappings() -> None:
    catalogue = load_catalogue()
    speed = catalogue["traffic_speed_mean"].fiware
    assert speed is not None
    assert (speed.entity, speed.attribute) == ("TrafficFlowObserved", "averageVehicleSpeed")
    occupancy = catalogue["traffic_occupancy"].fiware
    assert occupancy is not None
    assert occupancy.scale == 0.01  # percent -> the fraction TrafficFlowObserved uses
    ph = catalogue["water_ph"].fiware
    assert ph is not None
    assert (ph.entity, ph.attribute) == ("WaterQualityObserved", "pH")
    assert catalogue["water_free_chlorine"].fiware is None


@pytest.mark.parametrize(
    "text",
    [
        "- not a mapping",
        "x: {sector: transport, unit: m, min: 0, max: 1}",
        "x: {sector: Outer Space, unit: m, min: 0, max: 1, description: d}",
        "x: {sector: water, unit: m, min: 1, max: 0, description: d}",
        "x: {sector: water, unit: m, min: 0, max: 1, description: d, colour: red}",
        "Bad-Name: {sector: water, unit: m, min: 0, max: 1, description: d}",
        "x: {sector: water, unit: m, min: 0, max: 1, description: d, fiware: {entity: E}}",
    ],
)
def test_bad_catalogue_raises(text: str) -> None:
    with pytest.raises(ContractError):
        parse_catalogue(text)
