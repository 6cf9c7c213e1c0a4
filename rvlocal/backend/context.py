"""Everything one backend app instance owns, passed to its routes (no module-level state)."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from rvlocal.backend.faults import Faults
from rvlocal.backend.logs import AccessLog
from rvlocal.backend.metrics import Metrics
from rvlocal.backend.ocr import SimulatedOcr
from rvlocal.backend.settings import Settings
from rvlocal.backend.store import ReceiptStore


@dataclass
class Backend:
    settings: Settings
    store: ReceiptStore
    metrics: Metrics
    tracer: Tracer
    logger: logging.Logger
    access_log: AccessLog
    faults: Faults
    ocr: SimulatedOcr
    rng: random.Random
    started: float = field(default_factory=time.time)
    tasks: set[asyncio.Task] = field(default_factory=set)

    @contextmanager
    def db_span(self, statement: str) -> Iterator[None]:
        # A child of an unrecorded request span would be dropped by the ParentBased sampler
        # anyway; skipping it saves the id generation and sampling on most requests under load.
        if not trace.get_current_span().is_recording():
            yield
            return
        # Not made current (nothing runs inside a statement): cheaper than start_as_current_span.
        span = self.tracer.start_span(f"sqlite {statement.split()[0]}", kind=SpanKind.CLIENT,
                                      attributes={"db.system": "sqlite", "db.statement": statement})
        try:
            yield
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            span.end()

    def spawn(self, coro) -> None:
        """Run work after the response (OCR); kept referenced so it is not garbage-collected,
        cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def current_trace_id() -> int:
    ctx = trace.get_current_span().get_span_context()
    return ctx.trace_id if ctx.is_valid and ctx.trace_flags.sampled else 0
