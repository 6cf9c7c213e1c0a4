"""Grafana, Loki, Promtail and Jaeger on the real images: datasources healthy, dashboards
provisioned, a request's log line found in Loki by its trace_id, that trace in Jaeger with the
backend's spans, and Jaeger's spanmetrics in Prometheus. Each test skips, naming the image,
where the image cannot be had (no registry here); nothing imitates these services."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from rvlocal import state
from tests.conftest import stack_up

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def eventually(fetch, timeout: float = 90, what: str = ""):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fetch()
        if last:
            return last
        time.sleep(2)
    pytest.fail(f"{what} not seen within {timeout:.0f}s (last: {last!r})")


@pytest.fixture
def full_stack(project):
    with stack_up(project, 33000, timeout=240) as stack:
        yield stack, stack.env(), stack.status()


@pytest.mark.requires_image("GRAFANA_IMAGE")
@pytest.mark.requires_image("LOKI_IMAGE")
@pytest.mark.requires_image("JAEGER_IMAGE")
def test_grafana_datasources_are_healthy_and_dashboards_provisioned(project, full_stack):
    from rvlocal import dashboards

    _stack, env, _ = full_stack
    auth = ("admin", state.grafana_password_file(project).read_text().strip())
    grafana = f"http://127.0.0.1:{env['GRAFANA_PORT']}"
    for uid in ("prometheus", "loki", "jaeger"):
        health = httpx.get(f"{grafana}/api/datasources/uid/{uid}/health", auth=auth, timeout=30)
        assert health.status_code == 200 and health.json().get("status") == "OK", (uid, health.text)
    found = {d["uid"] for d in httpx.get(f"{grafana}/api/search", params={"type": "dash-db"}, auth=auth).json()}
    assert {json.loads(p.read_text())["uid"] for p in dashboards.files(project)} <= found


@pytest.mark.requires_image("LOKI_IMAGE")
@pytest.mark.requires_image("PROMTAIL_IMAGE")
@pytest.mark.requires_image("JAEGER_IMAGE")
def test_a_request_is_found_in_loki_by_trace_id_and_in_jaeger_with_its_spans(full_stack):
    _stack, env, _ = full_stack
    backend = f"http://127.0.0.1:{env['BACKEND_PORT']}"
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    assert httpx.post(f"{backend}/api/receipts", headers={"traceparent": traceparent},
                      json={"merchant": "Trace Cafe", "amount": 3.5, "currency": "EUR"}).status_code == 202

    loki = f"http://127.0.0.1:{env['LOKI_PORT']}"

    def log_lines():
        r = httpx.get(f"{loki}/loki/api/v1/query_range", params={
            "query": f'{{service="backend"}} | trace_id="{trace_id}"', "limit": 50,
            "start": int((time.time() - 600) * 1e9), "end": int(time.time() * 1e9)}, timeout=10)
        return [line for s in r.json()["data"]["result"] for _, line in s["values"]]

    lines = eventually(log_lines, what=f"log lines with trace_id {trace_id} in Loki")
    assert any(json.loads(l).get("route") == "/api/receipts" for l in lines)

    jaeger = f"http://127.0.0.1:{env['JAEGER_UI_PORT']}"

    def spans():
        r = httpx.get(f"{jaeger}/api/traces/{trace_id}", timeout=10)
        return [s["operationName"] for t in r.json().get("data") or [] for s in t["spans"]] if r.status_code == 200 else []

    names = eventually(spans, what=f"trace {trace_id} in Jaeger")
    assert "POST /api/receipts" in names and "sqlite INSERT" in names


@pytest.mark.requires_image("JAEGER_IMAGE")
def test_jaeger_spanmetrics_reach_prometheus(full_stack):
    _stack, env, _ = full_stack
    backend = f"http://127.0.0.1:{env['BACKEND_PORT']}"
    for _ in range(20):
        httpx.get(f"{backend}/api/receipts", timeout=5)
    prometheus = f"http://127.0.0.1:{env['PROMETHEUS_PORT']}"

    def calls():
        r = httpx.get(f"{prometheus}/api/v1/query", params={
            "query": 'traces_span_metrics_calls_total{service_name="receipt-vault-backend"}'}, timeout=10)
        return r.json()["data"]["result"]

    assert eventually(calls, timeout=120, what="spanmetrics calls in Prometheus")
