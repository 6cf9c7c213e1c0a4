"""Traces: OpenTelemetry SDK, OTLP/HTTP to the configured endpoint, in the background.

The batch processor exports from its own thread with a short timeout, so a missing Jaeger
costs dropped spans and a warning, never a slow or failed request.
"""

from __future__ import annotations

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from rvlocal.backend.settings import Settings

EXPORT_TIMEOUT_SECONDS = 2.0


def make_tracer_provider(settings: Settings, exporter: SpanExporter | None = None) -> TracerProvider:
    resource = Resource.create({
        "service.name": settings.service,
        "service.version": settings.version,
        "deployment.environment.name": settings.environment,
        "deployment.environment": settings.environment,  # the pre-1.27 key, still read by Jaeger's UI
    })
    provider = TracerProvider(resource=resource)
    if exporter is not None:  # tests pass an in-memory exporter and read spans synchronously
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif settings.otlp_traces_url:
        provider.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=settings.otlp_traces_url, timeout=EXPORT_TIMEOUT_SECONDS),
            max_queue_size=4096, schedule_delay_millis=2000))
    return provider
