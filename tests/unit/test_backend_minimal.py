"""The sample backend's health and metrics, and the sink's recording (FastAPI TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from rvlocal.backend.app import create_app
from rvlocal.backend.sink import create_app as create_sink


def test_health_endpoints():
    client = TestClient(create_app())
    body = client.get("/health").json()
    assert body["status"] == "healthy" and "version" in body and "uptime_seconds" in body
    assert client.get("/health/liveness").json() == {"status": "ok"}
    assert client.get("/health/readiness").status_code == 200


def test_metrics_use_route_templates_and_slo_bucket():
    client = TestClient(create_app())
    client.get("/health")
    client.get("/does-not-exist")
    families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
    requests = families["receipt_vault_requests"]
    endpoints = {s.labels["endpoint"] for s in requests.samples}
    assert endpoints == {"/health", "unmatched"}, "raw paths must never become labels"
    buckets = {s.labels["le"] for s in families["receipt_vault_request_duration_seconds"].samples
               if s.name.endswith("_bucket")}
    assert "0.2" in buckets


def test_sink_records_webhooks_and_keeps_them(tmp_path):
    client = TestClient(create_sink(tmp_path))
    payload = {"receiver": "alert-sink", "status": "firing",
               "alerts": [{"labels": {"alertname": "ServiceDown"}}]}
    assert client.post("/webhook", json=payload).status_code == 200
    again = TestClient(create_sink(tmp_path))  # a restart reads the same file
    found = again.get("/api/notifications", params={"alertname": "ServiceDown"}).json()
    assert len(found) == 1 and found[0]["status"] == "firing"
    assert again.get("/api/notifications", params={"alertname": "Other"}).json() == []


def test_sink_rejects_malformed_payloads_and_keeps_them(tmp_path):
    client = TestClient(create_sink(tmp_path))
    response = client.post("/webhook", content=b"{not json")
    assert response.status_code == 400
    assert "malformed" in (tmp_path / "notifications.jsonl").read_text()
    assert client.get("/health").json() == {"status": "ok"}
