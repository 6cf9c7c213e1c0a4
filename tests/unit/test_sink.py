"""The alert sink records what Alertmanager delivers (FastAPI TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from rvlocal.backend.sink import create_app as create_sink


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
