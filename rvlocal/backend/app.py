"""Sample Receipt Vault backend: health endpoints and production's metric names.

Minimal for the stack; the backend work adds receipts, OCR, traces, logs and faults.
"""

from __future__ import annotations

import os
import time

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from rvlocal import __version__

# Buckets must contain the SLO threshold (0.2 s) so the latency SLI is exact.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "receipt_vault_requests_total",
            "HTTP requests by method, route template and status code.",
            ["method", "endpoint", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "receipt_vault_request_duration_seconds",
            "HTTP request duration by method and route template.",
            ["method", "endpoint"],
            buckets=REQUEST_BUCKETS,
            registry=registry,
        )
        ProcessCollector(registry=registry)


def create_app() -> FastAPI:
    started = time.time()
    metrics = Metrics(CollectorRegistry())
    app = FastAPI(title="Receipt Vault backend (rvlocal sample)", version=__version__)

    @app.middleware("http")
    async def count_requests(request: Request, call_next):
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        # The route template, never the raw path: bounded label cardinality.
        endpoint = getattr(route, "path", "unmatched")
        if endpoint != "/metrics":
            metrics.requests.labels(request.method, endpoint, str(response.status_code)).inc()
            metrics.duration.labels(request.method, endpoint).observe(time.perf_counter() - t0)
        return response

    @app.get("/health")
    def health() -> JSONResponse:
        return JSONResponse(
            {
                "status": "healthy",
                "version": __version__,
                "uptime_seconds": round(time.time() - started, 1),
                "environment": os.environ.get("RV_ENV", "local"),
            }
        )

    @app.get("/health/liveness")
    def liveness() -> dict:
        return {"status": "ok"}

    @app.get("/health/readiness")
    def readiness() -> dict:
        return {"status": "ready"}

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


app = create_app()
