"""hatang: the composition roots of the platform (settings, command line, local stack, migrations).

The domain lives in the sibling packages ``firmware_contracts``, ``registry``, ``ingest``, ``api`` and
``simulators``; this package wires them into processes and must hold no domain logic of its own.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
