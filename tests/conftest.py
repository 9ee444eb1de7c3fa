"""Fixtures come from plugins, one per service (see tests/plugins/)."""

from hypothesis import settings

pytest_plugins = [
    "tests.plugins.stack",
    "tests.plugins.api",
    "tests.plugins.readiness",
    "tests.plugins.ingest",
    "tests.plugins.timeseries",
    "tests.plugins.zones",
    "tests.plugins.alerts",
]

# No per-example deadline (Hypothesis's default is 200 ms): the suite's two workers share two cores
# with real services, and a property is about values, never about how long an example took.
settings.register_profile("suite", deadline=None)
settings.load_profile("suite")
