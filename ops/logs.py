"""The one logging set-up: stdlib logging, text or JSON lines."""

from __future__ import annotations

import json
import logging
import time

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message (and the exception, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Configure the root logger once for a CLI run (pytest runs use pytest's log options)."""
    handler = logging.StreamHandler()
    if fmt == "json":
        handler.setFormatter(JsonLinesFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
