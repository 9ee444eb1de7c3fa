"""What the API process logs: uvicorn's own records, with every query string redacted.

uvicorn writes each WebSocket handshake (and, when enabled, each request) with the full path and
query string; a query string may carry a credential (a stream ticket, or a key from an old client).
``RedactQuery`` replaces every query value in a record's message and arguments with ``***`` before
any handler formats it; ``log_config`` is uvicorn's default logging configuration with that filter
on every handler. It must not change what is logged otherwise.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any

from uvicorn.config import LOGGING_CONFIG

# A query string inside a logged path: from "?" up to the first space or quote.
_QUERY = re.compile(r"\?[^\s\"']*")


def redact(text: str) -> str:
    """``text`` with every ``?name=value&...`` reduced to ``?name=***&...``."""

    def _names(match: re.Match[str]) -> str:
        pairs = match.group(0)[1:].split("&")
        return "?" + "&".join(f"{pair.split('=', 1)[0]}=***" if pair else pair for pair in pairs)

    return _QUERY.sub(_names, text)


class RedactQuery(logging.Filter):
    """Redacts query strings in a record's message and string arguments (keeps the record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration with ``RedactQuery`` on every handler."""
    config: dict[str, Any] = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query"] = {"()": f"{__name__}.RedactQuery"}
    for handler in config["handlers"].values():
        handler.setdefault("filters", []).append("redact_query")
    return config
