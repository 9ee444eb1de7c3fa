"""The REST API (``hatang api``): routers, dependencies, problem+json handlers, the live-stream hub.

Thin by design: routers validate, authorise and call the domain (``registry``, ``timeseries``,
``ingest``); no SQL here. Other packages use :func:`create_app` only.
"""

from api.app import create_app

__all__ = ["create_app"]
