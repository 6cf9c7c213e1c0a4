"""Per-request telemetry as plain ASGI (cheaper than BaseHTTPMiddleware): the server span,
production's request metrics with trace-id exemplars, one JSON access line, and error
tracking for anything a route lets escape."""

from __future__ import annotations

import json
import time
import uuid

from opentelemetry import context, trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind, Status, StatusCode

from rvlocal.backend.context import Backend

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
        # The hot path avoids start_as_current_span's decorator machinery and only builds a
        # carrier when the caller sent trace context (benchmarks/backend_overhead.py).
        parent = _incoming_context(scope)
        span = b.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        token = context.attach(trace.set_span_in_context(span, parent))

        def record() -> None:
            """Count the request before its last byte leaves: a client holding the answer is
            always already counted (load-test totals match the metrics exactly)."""
            if not response["recorded"]:
                response["recorded"] = True
                self._record(span, method, scope, response["status"], time.perf_counter() - t0,
                             response["error_id"])

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
        finally:
            record()
            context.detach(token)
            span.end()

    def _track(self, span, exc: Exception, method: str, route: str) -> str:
        error_id = uuid.uuid4().hex
        self.backend.metrics.errors.labels(type(exc).__name__).inc()
        span.record_exception(exc)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.set_attribute("error.id", error_id)
        self.backend.logger.error("unhandled exception", exc_info=exc, extra={
            "error_id": error_id, "error_type": type(exc).__name__, "method": method, "route": route})
        return error_id

    def _record(self, span, method: str, scope, status: int, elapsed: float, error_id: str | None) -> None:
        b = self.backend
        route = _route_of(scope)
        if span.is_recording():
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.request.method": method, "url.path": scope["path"],
                                 "http.route": route, "http.response.status_code": status})
            if status >= 500 and error_id is None:
                span.set_status(Status(StatusCode.ERROR))
        if route in NOT_COUNTED:
            return
        ctx = span.get_span_context()
        b.metrics.observe_request(method, route, status, elapsed, ctx.trace_id if ctx.trace_flags.sampled else 0)
        fields = {"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)}
        if error_id:
            fields["error_id"] = error_id
        b.access_log.write("error" if status >= 500 else "info", "request", ctx, fields)


def _incoming_context(scope):
    for name, value in scope.get("headers", ()):
        if name == b"traceparent":
            return extract({"traceparent": value.decode("latin-1"), **_tracestate(scope)})
    return None


def _tracestate(scope) -> dict[str, str]:
    return {"tracestate": v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"tracestate"}


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
