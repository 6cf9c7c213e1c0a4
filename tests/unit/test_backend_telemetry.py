"""What the backend tells the observability stack: metrics, exemplars, JSON logs, traces and
error tracking (TestClient, in-memory span exporter, captured log stream)."""

from __future__ import annotations

import base64
import threading
import time

from opentelemetry.trace import SpanKind
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from rvlocal.backend import tracing
from rvlocal.backend.metrics import SLO_BUCKETS
from rvlocal.backend.settings import Settings

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"
ACCESS_FIELDS = {"ts", "level", "msg", "service", "trace_id", "span_id", "method", "route", "status", "duration_ms"}


def _exercise(h) -> str:
    receipt_id = h.upload(user_type="business").json()["id"]
    h.wait_processed(receipt_id)
    h.client.get(f"/api/receipts/{receipt_id}")
    h.client.get("/api/receipts/nope")
    return receipt_id


def test_production_metric_names_labels_and_slo_buckets(backend):
    receipt_id = _exercise(backend)
    families = backend.families()
    expected_labels = {
        "receipt_vault_requests": {"method", "endpoint", "status"},
        "receipt_vault_request_duration_seconds": {"method", "endpoint"},
        "receipt_vault_receipts_processed": {"status", "user_type"},
        "receipt_vault_ocr_confidence_score": {"provider"},
        "receipt_vault_ocr_duration_seconds": {"provider"},
    }
    for name, labels in expected_labels.items():
        samples = [s for s in families[name].samples if not s.name.endswith("_created")]
        assert samples, name
        assert all(set(s.labels) - {"le"} == labels for s in samples), name
    assert "receipt_vault_errors" in families and "process_cpu_seconds" in families
    for name, threshold in SLO_BUCKETS.items():
        bounds = {float(s.labels["le"]) for s in families[name].samples if s.name.endswith("_bucket")}
        assert threshold in bounds, f"{name} lacks the SLO bucket {threshold}"
    endpoints = {s.labels["endpoint"] for s in families["receipt_vault_requests"].samples}
    assert "/api/receipts/{receipt_id}" in endpoints and not any(receipt_id in e for e in endpoints)
    assert backend.sample("receipt_vault_requests_total", endpoint="/api/receipts/{receipt_id}", status="404") == 1
    assert backend.sample("receipt_vault_receipts_processed_total", status="processed", user_type="business") == 1
    assert backend.sample("receipt_vault_ocr_duration_seconds_count", provider="simulated") == 1


def test_unmatched_paths_share_one_label(backend):
    for i in range(3):
        backend.client.get(f"/random/{i}")
    assert backend.sample("receipt_vault_requests_total", endpoint="unmatched", status="404") == 3


def test_duration_exemplars_carry_the_request_trace_id_in_openmetrics_only(backend):
    backend.client.get("/api/receipts")
    server = [s for s in backend.spans.get_finished_spans() if s.kind == SpanKind.SERVER][-1]
    trace_id = format(server.context.trace_id, "032x")
    text = backend.client.get("/metrics", headers={"Accept": OPENMETRICS})
    assert text.headers["content-type"].startswith("application/openmetrics-text")
    exemplars = [s.exemplar for f in parse_openmetrics(text.text) for s in f.samples
                 if s.name == "receipt_vault_request_duration_seconds_bucket" and s.exemplar
                 and s.labels["endpoint"] == "/api/receipts"]
    assert [e.labels["trace_id"] for e in exemplars] == [trace_id]
    plain = backend.client.get("/metrics", headers={"Accept": "text/plain"}).text
    assert "trace_id" not in plain


def test_every_log_line_is_json_and_access_lines_carry_the_span(backend):
    backend.client.get("/api/receipts")
    lines = backend.log_lines()
    access = [l for l in lines if l["msg"] == "request"]
    assert len(access) == 1 and ACCESS_FIELDS <= set(access[0])
    line = access[0]
    assert (line["method"], line["route"], line["status"], line["level"]) == ("GET", "/api/receipts", 200, "info")
    server = [s for s in backend.spans.get_finished_spans() if s.kind == SpanKind.SERVER][-1]
    assert line["trace_id"] == format(server.context.trace_id, "032x")
    assert line["span_id"] == format(server.context.span_id, "016x")
    assert line["service"] == "receipt-vault-backend" and line["ts"].endswith("Z")


def test_spans_for_request_database_and_ocr_share_one_trace(backend):
    receipt_id = backend.upload().json()["id"]
    backend.wait_processed(receipt_id)
    spans = backend.spans.get_finished_spans()
    upload = next(s for s in spans if s.name == "POST /api/receipts")
    assert upload.kind == SpanKind.SERVER and upload.attributes["http.route"] == "/api/receipts"
    assert upload.attributes["http.response.status_code"] == 202
    in_trace = [s for s in spans if s.context.trace_id == upload.context.trace_id]
    names = {s.name for s in in_trace}
    assert {"sqlite INSERT", "ocr.extract", "sqlite UPDATE"} <= names
    ocr = next(s for s in in_trace if s.name == "ocr.extract")
    assert ocr.parent.span_id == upload.context.span_id and ocr.attributes["ocr.status"] == "processed"
    resource = upload.resource.attributes
    assert resource["service.name"] == "receipt-vault-backend"
    assert resource["deployment.environment.name"] == "test" and resource["service.version"] == "9.9.9"


def test_incoming_trace_context_is_continued(backend):
    parent = "4bf92f3577b34da6a3ce929d0e0e4736"
    backend.client.get("/api/receipts", headers={"traceparent": f"00-{parent}-00f067aa0ba902b7-01"})
    server = [s for s in backend.spans.get_finished_spans() if s.kind == SpanKind.SERVER][-1]
    assert format(server.context.trace_id, "032x") == parent


def test_unhandled_exception_is_a_500_with_an_id_logged_with_its_stack_and_counted(backend):
    backend.backend.store.close()  # every query now raises sqlite3.ProgrammingError
    response = backend.client.get("/api/receipts")
    assert response.status_code == 500
    error_id = response.json()["error_id"]
    errors = [l for l in backend.log_lines() if l.get("error_id") == error_id]
    tracked = next(l for l in errors if l["msg"] == "unhandled exception")
    assert "Traceback" in tracked["stack"] and "ProgrammingError" in tracked["stack"]
    assert tracked["level"] == "error" and tracked["route"] == "/api/receipts"
    access = next(l for l in errors if l["msg"] == "request")
    assert access["status"] == 500 and access["trace_id"] == tracked["trace_id"]
    assert backend.sample("receipt_vault_errors_total", type="ProgrammingError") == 1
    assert backend.sample("receipt_vault_requests_total", endpoint="/api/receipts", status="500") == 1


def test_logs_never_carry_the_admin_token_or_image_bytes(backend):
    marker = b"SECRET-IMAGE-BYTES-0451"
    backend.upload(image_base64=base64.b64encode(marker).decode())
    backend.admin("PUT", {"error_rate": 0.0})
    backend.admin("PUT", {"error_rate": 0.0}, token="wrong-token-guess")
    text = backend.log.getvalue()
    assert text, "the requests above must have been logged"
    for secret in ("test-admin-token-7f3a", "wrong-token-guess", marker.decode(),
                   base64.b64encode(marker).decode()):
        assert secret not in text


def test_settings_map_production_env_names():
    s = Settings.from_env({"DD_SERVICE": "receipt-vault-api", "DD_ENV": "production", "DD_VERSION": "2.4.1",
                           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318/", "RV_ADMIN_TOKEN": "t"})
    assert (s.service, s.environment, s.version) == ("receipt-vault-api", "production", "2.4.1")
    assert s.otlp_traces_url == "http://jaeger:4318/v1/traces" and s.admin_token == "t"
    direct = Settings.from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://x:4318/custom"})
    assert direct.otlp_traces_url == "http://x:4318/custom" and direct.admin_token == ""


class _StuckExporter:
    """An OTLP exporter whose every export hangs until released: what a black-holed Jaeger does."""
    released = threading.Event()
    calls = 0

    def __init__(self, **_kwargs) -> None:
        pass

    def export(self, spans):
        type(self).calls += 1
        self.released.wait(30)
        from opentelemetry.sdk.trace.export import SpanExportResult
        return SpanExportResult.FAILURE

    def shutdown(self):
        self.released.set()

    def force_flush(self, timeout_millis=0):
        return True


def test_a_hanging_trace_exporter_never_blocks_requests(make_backend, monkeypatch):
    monkeypatch.setattr(tracing, "OTLPSpanExporter", _StuckExporter)
    h = make_backend(in_memory_spans=False, otlp_traces_url="http://127.0.0.1:9/v1/traces")
    # 300 requests make over 512 spans, so the batch processor hands a batch to the exporter,
    # which hangs; were export on the request path, these would hang with it.
    statuses = [h.client.get("/api/receipts").status_code for _ in range(300)]
    assert statuses == [200] * 300
    deadline = time.monotonic() + 10
    while _StuckExporter.calls == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _StuckExporter.calls >= 1, "spans must have reached the exporter's thread"
    _StuckExporter.released.set()


def test_rate_limited_sampler_keeps_at_most_n_new_traces_a_second():
    from opentelemetry.sdk.trace.sampling import Decision
    now = [0.0]
    sampler = tracing.RateLimitedSampler(3, clock=lambda: now[0])
    decide = lambda: sampler.should_sample(None, 1, "GET").decision  # noqa: E731
    assert [decide() for _ in range(5)] == [Decision.RECORD_AND_SAMPLE] * 3 + [Decision.DROP] * 2
    now[0] += 0.34  # one token back
    assert [decide() for _ in range(2)] == [Decision.RECORD_AND_SAMPLE, Decision.DROP]


def test_unrecorded_requests_log_a_trace_id_but_leave_no_exemplar(make_backend):
    h = make_backend(traces_per_second=1)  # the first request takes the only token
    for _ in range(3):
        h.client.get("/api/receipts")
    recorded = {format(s.context.trace_id, "032x") for s in h.spans.get_finished_spans()}
    logged = [l["trace_id"] for l in h.log_lines() if l["msg"] == "request"]
    assert len(recorded) == 1 and len(set(logged)) == 3, "every request has its own trace id"
    text = h.client.get("/metrics", headers={"Accept": OPENMETRICS}).text
    exemplar_ids = {s.exemplar.labels["trace_id"] for f in parse_openmetrics(text) for s in f.samples
                    if s.exemplar and s.name == "receipt_vault_request_duration_seconds_bucket"}
    assert exemplar_ids == recorded, "exemplars point only at traces that were recorded"
