"""Per-request telemetry as plain ASGI (cheaper than BaseHTTPMiddleware): the server span,
production's request metrics with trace-id exemplars, one JSON access line, and error
tracking for anything a route lets escape."""

from __future__ import annotations

import json
import logging
import time
import uuid

from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

from rvlocal.backend.context import Backend
from rvlocal.backend.metrics import exemplar

UNMATCHED = "unmatched"
NOT_COUNTED = {"/metrics"}


class RequestTelemetry:
    def __init__(self, app, backend: Backend) -> None:
        self.app = app
        self.backend = backend

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        b = self.backend
        method = scope["method"]
        t0 = time.perf_counter()
        response = {"status": 500, "started": False, "recorded": False, "error_id": None}
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}

        with b.tracer.start_as_current_span(
            f"{method} {scope['path']}", context=extract(headers), kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:
            def record() -> None:
                """Count the request before its last byte leaves: a client holding the answer
                is always already counted (load-test totals match the metrics exactly)."""
                if response["recorded"]:
                    return
                response["recorded"] = True
                self._record(span, method, _route_of(scope), response["status"],
                             time.perf_counter() - t0, response["error_id"])

            async def send_and_watch(message):
                if message["type"] == "http.response.start":
                    response["status"] = message["status"]
                    response["started"] = True
                elif message["type"] == "http.response.body" and not message.get("more_body", False):
                    record()
                await send(message)

            try:
                await self.app(scope, receive, send_and_watch)
            except Exception as exc:  # noqa: BLE001 — this is the error tracker
                response["error_id"] = self._track(span, exc, method, _route_of(scope))
                if not response["started"]:
                    await _send_error(send_and_watch, response["error_id"])
            record()

    def _track(self, span, exc: Exception, method: str, route: str) -> str:
        error_id = uuid.uuid4().hex
        self.backend.metrics.errors.labels(type(exc).__name__).inc()
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.set_attribute("error.id", error_id)
        self.backend.logger.error("unhandled exception", exc_info=exc, extra={
            "error_id": error_id, "error_type": type(exc).__name__, "method": method, "route": route})
        return error_id

    def _record(self, span, method: str, route: str, status: int, elapsed: float, error_id: str | None) -> None:
        b = self.backend
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        if status >= 500 and error_id is None:
            span.set_status(Status(StatusCode.ERROR))
        if route in NOT_COUNTED:
            return
        b.metrics.requests.labels(method, route, str(status)).inc()
        b.metrics.duration.labels(method, route).observe(elapsed, exemplar(span.get_span_context().trace_id))
        b.logger.log(logging.ERROR if status >= 500 else logging.INFO, "request", extra={
            "method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2),
            **({"error_id": error_id} if error_id else {})})


def _route_of(scope) -> str:
    # The route template, never the raw path: bounded label cardinality.
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


async def _send_error(send, error_id: str) -> None:
    body = json.dumps({"error": "internal server error", "error_id": error_id,
                       "detail": "quote this error_id when reporting; the log line carries the stack trace"}).encode()
    await send({"type": "http.response.start", "status": 500,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
