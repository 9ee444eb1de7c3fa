"""Fixtures come from plugins, one per service (see tests/plugins/)."""

pytest_plugins = [
    "tests.plugins.stack",
    "tests.plugins.api",
    "tests.plugins.readiness",
    "tests.plugins.ingest",
    "tests.plugins.timeseries",
    "tests.plugins.zones",
    "tests.plugins.alerts",
]
