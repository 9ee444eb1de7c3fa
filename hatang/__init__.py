"""hatang: the composition roots of the platform (settings, command line, local stack, migrations).

The domain lives in the sibling packages ``firmware_contracts``, ``registry``, ``ingest``,
``timeseries``, ``api`` and ``simulators``; this package wires them into processes and must hold no
domain logic of its own. Its leaf modules ``settings`` and ``db`` may be imported by every package;
``migrate`` and ``stack`` by the benches (``bench``), which run processes of their own.
"""

__version__ = "0.1.0"
__all__ = ["__version__", "db", "migrate", "settings", "stack"]
