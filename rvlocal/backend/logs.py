"""One JSON object per line on stdout, carrying the current trace and span ids.

Only fields the code sets explicitly are logged: never headers, bodies, tokens or image bytes.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
import time
import traceback
from datetime import datetime, timezone
from typing import IO

from opentelemetry import trace

# Fields a log call may pass through `extra=`; anything else is not logged.
EXTRA_FIELDS = ("method", "route", "status", "duration_ms", "error_id", "error_type", "receipt_id",
                "user_type", "ocr_status", "faults")


@functools.lru_cache(maxsize=4)
def _second(second: int) -> str:
    return datetime.fromtimestamp(second, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _ts(created: float) -> str:
    """RFC 3339 UTC with milliseconds; each second is formatted once (a hot path)."""
    second = int(created)
    return f"{_second(second)}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str = "receipt-vault-backend") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": _ts(record.created),
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


class AccessLog:
    """The per-request line, written without logging's machinery (LogRecord, handlers,
    filters): same shape as JsonFormatter, same stream and lock as the app's logger. Measured
    by benchmarks/backend_overhead.py."""

    def __init__(self, logger: logging.Logger, service: str) -> None:
        self._handler = logger.handlers[0]
        self._name = logger.name
        self._service = service

    def write(self, level: str, msg: str, span_context, fields: dict) -> None:
        out = {"ts": _ts(time.time()), "level": level, "msg": msg, "service": self._service,
               "logger": self._name}
        if span_context.is_valid:
            out["trace_id"] = format(span_context.trace_id, "032x")
            out["span_id"] = format(span_context.span_id, "016x")
        out.update(fields)
        line = json.dumps(out, default=str) + "\n"
        handler = self._handler
        handler.acquire()
        try:
            handler.stream.write(line)
            handler.flush()
        finally:
            handler.release()


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
