"""The REST API (``hatang api``): routers, dependencies, problem+json handlers, the live-stream hub.

Thin by design: routers validate, authorise and call the domain (``registry``, ``timeseries``,
``ingest``); no SQL here. Other packages use :func:`create_app` and :func:`log_config` (uvicorn's
logging with query strings redacted) only.
"""

from api.app import create_app
from api.logs import log_config

__all__ = ["create_app", "log_config"]
