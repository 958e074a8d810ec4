"""``LOG_FORMAT=json``: the worker logs one JSON object per line, for log collectors.

Each line has ``time`` (ISO 8601, UTC, ms), ``level``, ``logger`` and ``message``, plus
``exception`` with the formatted traceback when there is one.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any


class JsonFormatter(logging.Formatter):
    """One log record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_logging_config() -> dict[str, Any]:
    """Faust's ``logging_config``: its stream handler, formatted as JSON on stdout."""
    return {
        "merge": True,  # keep the level and root logger Faust sets up; replace the handler
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            }
        },
    }
