"""Device simulators: a fleet that publishes what the firmware contracts describe, with faults.

``hatang simulate`` uses what ``__all__`` lists; everything else is private to the package.
"""

from simulators.errors import FleetError, PublishError, SignalError, SimulatorError
from simulators.fleet import Fleet, UrllibHttp, create_fleet, load_fleet, save_fleet
from simulators.load import LoadResult, LoadSpec, run_load, stderr_status
from simulators.messages import FaultPlan, SimDevice
from simulators.publisher import BrokerAddress, parse_url
from simulators.report import render, run_checked

__all__ = [
    "BrokerAddress",
    "FaultPlan",
    "Fleet",
    "FleetError",
    "LoadResult",
    "LoadSpec",
    "PublishError",
    "SignalError",
    "SimDevice",
    "SimulatorError",
    "UrllibHttp",
    "create_fleet",
    "load_fleet",
    "parse_url",
    "render",
    "run_checked",
    "run_load",
    "save_fleet",
    "stderr_status",
]
