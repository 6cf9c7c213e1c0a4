"""The sample Receipt Vault backend: production's API shape, metrics, health, logs and traces,
and fault injection so alerts can be proven to fire.

`create_app()` reads settings from the environment when called (uvicorn --factory), never at
import time; tests pass settings, a clock-free in-memory span exporter and a log stream.
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager
from typing import IO

from fastapi import FastAPI, Request, Response
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from rvlocal.backend import admin, health, receipts
from rvlocal.backend.context import Backend
from rvlocal.backend.faults import Faults
from rvlocal.backend.logs import AccessLog, make_logger
from rvlocal.backend.metrics import Metrics
from rvlocal.backend.middleware import RequestTelemetry
from rvlocal.backend.ocr import SimulatedOcr
from rvlocal.backend.settings import Settings
from rvlocal.backend.store import ReceiptStore
from rvlocal.backend.tracing import make_tracer_provider


def create_app(settings: Settings | None = None, *, span_exporter: SpanExporter | None = None,
               log_stream: IO[str] | None = None, seed: int | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    provider = make_tracer_provider(settings, span_exporter) if settings.instrumentation else None
    rng = random.Random(seed)
    logger = make_logger(settings.service, log_stream)
    b = Backend(
        settings=settings,
        store=ReceiptStore(settings.data_dir / "receipts.sqlite3"),
        metrics=Metrics(),
        tracer=provider.get_tracer("rvlocal.backend") if provider else trace.NoOpTracer(),
        logger=logger,
        access_log=AccessLog(logger, settings.service),
        faults=Faults(),
        ocr=SimulatedOcr(settings.ocr, rng),
        rng=rng,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        b.logger.info("receipt vault backend started", extra={"faults": {}})
        yield
        for task in list(b.tasks):
            task.cancel()
        if provider:
            provider.shutdown()
        b.store.close()

    app = FastAPI(title="Receipt Vault backend (rvlocal sample)", version=settings.version, lifespan=lifespan)
    app.state.backend = b
    app.include_router(health.router(b))
    app.include_router(receipts.router(b))
    app.include_router(admin.router(b))

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        body, content_type = b.metrics.expose(request.headers.get("accept", ""))
        return Response(body, media_type=content_type)

    if settings.instrumentation:
        app.add_middleware(RequestTelemetry, backend=b)
    return app
