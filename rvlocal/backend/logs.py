"""One JSON object per line on stdout, carrying the current trace and span ids.

Only fields the code sets explicitly are logged: never headers, bodies, tokens or image bytes.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import datetime, timezone
from typing import IO

from opentelemetry import trace

# Fields a log call may pass through `extra=`; anything else is not logged.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "error_id", "error_type", "receipt_id",
                "user_type", "ocr_status", "faults")


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "receipt-vault-backend") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "service": self.service,
            "logger": record.name,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        for name in EXTRA_FIELDS:
            if name in record.__dict__:
                out[name] = record.__dict__[name]
        if record.exc_info:
            out["stack"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(out, default=str)


class OncePerInterval(logging.Filter):
    """Lets one record per logger through every `seconds`: an absent Jaeger makes the OTLP
    exporter complain every few seconds, which would drown the backend's own lines."""

    def __init__(self, seconds: float = 60.0) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        last = self._last.get(record.name)
        if last is not None and record.created - last < self.seconds:
            return False
        self._last[record.name] = record.created
        return True


def make_logger(service: str, stream: IO[str] | None = None, name: str = "receipt-vault-backend") -> logging.Logger:
    """A logger of the app's own, not registered globally, so several apps (tests) never share
    handlers."""
    logger = logging.Logger(name, logging.INFO)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    logger.addHandler(handler)
    return logger


def uvicorn_log_config(service: str) -> dict:
    """uvicorn's own lines (start-up, errors) in the same JSON shape; access lines come from
    the app's middleware, which knows the route template and the trace."""
    formatter = {"()": "rvlocal.backend.logs.JsonFormatter", "service": service}
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        # Handler-level: a logger's own filters do not see its children's records.
        "handlers": {"stdout": handler, "stdout_throttled": {**handler, "filters": ["once_a_minute"]}},
        "filters": {"once_a_minute": {"()": "rvlocal.backend.logs.OncePerInterval", "seconds": 60}},
        "root": {"handlers": ["stdout"], "level": "WARNING"},
        "loggers": {
            "uvicorn": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"handlers": ["stdout"], "level": "INFO", "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "opentelemetry": {"handlers": ["stdout_throttled"], "level": "WARNING", "propagate": False},
        },
    }
