"""Production's metric names, labels and buckets, and the exposition the scraper asks for."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, PlatformCollector
from prometheus_client.exposition import choose_encoder

# Bucket boundaries must contain each SLO threshold, or the SLI cannot be measured exactly:
# 0.2 s is the API latency SLO, 15 s the OCR latency SLO.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5, 5.0, 10.0)
OCR_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0)
CONFIDENCE_BUCKETS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1.0)
# Histogram name → bucket boundaries: what promotion checks every `le` and latency threshold against.
HISTOGRAM_BUCKETS = {
    "receipt_vault_request_duration_seconds": REQUEST_BUCKETS,
    "receipt_vault_ocr_confidence_score": CONFIDENCE_BUCKETS,
    "receipt_vault_ocr_duration_seconds": OCR_BUCKETS,
}
SLO_BUCKETS = {"receipt_vault_request_duration_seconds": 0.2, "receipt_vault_ocr_duration_seconds": 15.0}


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "receipt_vault_requests_total", "HTTP requests by method, route template and status code.",
            ["method", "endpoint", "status"], registry=r)
        self.duration = Histogram(
            "receipt_vault_request_duration_seconds", "HTTP request duration by method and route template.",
            ["method", "endpoint"], buckets=HISTOGRAM_BUCKETS["receipt_vault_request_duration_seconds"], registry=r)
        self.receipts_processed = Counter(
            "receipt_vault_receipts_processed_total", "Receipts through OCR, by outcome and user type.",
            ["status", "user_type"], registry=r)
        self.ocr_confidence = Histogram(
            "receipt_vault_ocr_confidence_score", "OCR confidence of processed receipts.",
            ["provider"], buckets=HISTOGRAM_BUCKETS["receipt_vault_ocr_confidence_score"], registry=r)
        self.ocr_duration = Histogram(
            "receipt_vault_ocr_duration_seconds", "OCR step duration by provider.",
            ["provider"], buckets=HISTOGRAM_BUCKETS["receipt_vault_ocr_duration_seconds"], registry=r)
        self.errors = Counter(
            "receipt_vault_errors_total", "Errors by type (exception class, ocr_failure).",
            ["type"], registry=r)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        # labels() takes a lock and builds a key on every call; the hot path caches children.
        self._request_children: dict[tuple[str, str, int], tuple] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float, trace_id: int) -> None:
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.duration.labels(method, route))
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds, exemplar(trace_id))

    def expose(self, accept_header: str) -> tuple[bytes, str]:
        """OpenMetrics (with exemplars) when the scraper asks for it, else the text format.
        Prometheus asks for OpenMetrics first, so exemplars reach it."""
        encoder, content_type = choose_encoder(accept_header or "")
        return encoder(self.registry), content_type


def exemplar(trace_id: int) -> dict[str, str] | None:
    return {"trace_id": format(trace_id, "032x")} if trace_id else None
