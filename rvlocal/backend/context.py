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
from opentelemetry.trace import SpanKind, Tracer

from rvlocal.backend.faults import Faults
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
    faults: Faults
    ocr: SimulatedOcr
    rng: random.Random
    started: float = field(default_factory=time.time)
    tasks: set[asyncio.Task] = field(default_factory=set)

    @contextmanager
    def db_span(self, statement: str) -> Iterator[None]:
        with self.tracer.start_as_current_span(
            f"sqlite {statement.split()[0]}", kind=SpanKind.CLIENT,
            attributes={"db.system": "sqlite", "db.statement": statement},
        ):
            yield

    def spawn(self, coro) -> None:
        """Run work after the response (OCR); kept referenced so it is not garbage-collected,
        cancelled at shutdown."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


def current_trace_id() -> int:
    ctx = trace.get_current_span().get_span_context()
    return ctx.trace_id if ctx.is_valid and ctx.trace_flags.sampled else 0
