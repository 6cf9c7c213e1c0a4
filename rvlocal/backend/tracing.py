"""Traces: OpenTelemetry SDK, OTLP/HTTP to the configured endpoint, in the background.

The batch processor exports from its own thread with a short timeout, so a missing Jaeger
costs dropped spans and a warning, never a slow or failed request.
"""

from __future__ import annotations

import os
import threading
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, Decision, ParentBased, Sampler, SamplingResult

from rvlocal.backend.settings import Settings

EXPORT_TIMEOUT_SECONDS = 2.0


def make_tracer_provider(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider:
    resource = Resource.create({
        "service.name": settings.service,
        "service.version": settings.version,
        "deployment.environment.name": settings.environment,
        "deployment.environment": settings.environment,  # the pre-1.27 key, still read by Jaeger's UI
    })
    provider = TracerProvider(resource=resource, sampler=sampler_for(settings))
    if exporter is not None:  # tests pass an in-memory exporter and read spans synchronously
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_traces_url:
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.otlp_traces_url, timeout=EXPORT_TIMEOUT_SECONDS),
            max_queue_size=4096, schedule_delay_millis=2000))
    return provider


class RateLimitedSampler(Sampler):
    """Keeps at most `per_second` new traces a second (a token bucket), as Datadog's tracer
    does by default in production: every request gets a trace id (logs carry it), the first
    ones each second are recorded and exported, and exemplars point only at recorded traces.
    Use it as the root of ParentBased so a caller's sampling decision is kept."""

    def __init__(self, per_second: float, clock=time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._tokens = per_second
        self._last = clock()
        self._lock = threading.Lock()

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None,
                      trace_state=None) -> SamplingResult:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.per_second, self._tokens + (now - self._last) * self.per_second)
            self._last = now
            keep = self._tokens >= 1.0
            if keep:
                self._tokens -= 1.0
        return SamplingResult(Decision.RECORD_AND_SAMPLE if keep else Decision.DROP, attributes)

    def get_description(self) -> str:
        return f"RateLimitedSampler{{{self.per_second:g}/s}}"


def sampler_for(settings: Settings) -> Sampler | None:
    """OTEL_TRACES_SAMPLER, when set, wins (the SDK reads it when given None)."""
    if os.environ.get("OTEL_TRACES_SAMPLER") or settings.traces_per_second <= 0:
        return None if os.environ.get("OTEL_TRACES_SAMPLER") else ALWAYS_ON
    return ParentBased(RateLimitedSampler(settings.traces_per_second))
