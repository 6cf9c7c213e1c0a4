"""The alert sink: Slack, PagerDuty Events v2 and webhook payloads recorded, filtered, kept
across restarts, rejected like the real integrations would, and drawn for people."""

from __future__ import annotations

import json
import secrets

import pytest
from fastapi.testclient import TestClient

from rvlocal.backend.sink import create_app as create_sink

SLACK = {
    "channel": "#alerts-critical", "username": "Alertmanager",
    "attachments": [{
        "title": "[FIRING:1] ServiceDown receipt-vault-backend (critical)",
        "title_link": "http://127.0.0.1:3000/d/rv-operational?var-service=receipt-vault-backend",
        "text": "*Summary:* receipt-vault-backend is down\n*Firing:* Prometheus has not been able to scrape backend:8000",
        "color": "danger", "fallback": "[FIRING:1] ServiceDown",
        "actions": [{"type": "button", "text": "View Dashboard", "url": "http://127.0.0.1:3000/d/rv-operational"},
                    {"type": "button", "text": "Runbook", "url": "http://127.0.0.1:9099/runbooks/ServiceDown"}],
    }],
}
PAGERDUTY = {
    "routing_key": secrets.token_hex(16), "event_action": "trigger", "dedup_key": "abc123",
    "payload": {"summary": "[FIRING] ServiceDown on receipt-vault-backend: receipt-vault-backend is down",
                "source": "Receipt Vault Alertmanager", "severity": "critical",
                "custom_details": {"alertname": "ServiceDown", "service": "receipt-vault-backend",
                                   "runbook_url": "http://127.0.0.1:9099/runbooks/ServiceDown"}},
    "links": [{"href": "http://127.0.0.1:9099/runbooks/ServiceDown", "text": "Runbook"}],
}


@pytest.fixture
def sink(tmp_path):
    runbooks = tmp_path / "runbooks"
    runbooks.mkdir()
    (runbooks / "ServiceDown.md").write_text("# ServiceDown\n\n## Immediate Actions\n\n1. Check `up`.\n- a **bold** [link](http://x)\n")
    return TestClient(create_sink(tmp_path / "data", runbooks))


def test_slack_messages_are_recorded_with_status_alertname_and_buttons(sink):
    response = sink.post("/slack/alerts-critical", json=SLACK)
    assert response.status_code == 200 and response.text == "ok"
    [record] = sink.get("/api/notifications", params={"receiver": "#alerts-critical"}).json()
    assert (record["kind"], record["status"], record["alertnames"], record["severity"]) == \
        ("slack", "firing", ["ServiceDown"], "critical")
    assert [b["text"] for b in record["buttons"]] == ["View Dashboard", "Runbook"]


def test_pagerduty_events_are_accepted_like_events_v2_and_the_key_is_masked(sink):
    response = sink.post("/v2/enqueue", json=PAGERDUTY)
    assert response.status_code == 202 and response.json()["status"] == "success"
    [record] = sink.get("/api/notifications", params={"receiver": "pagerduty", "alertname": "ServiceDown"}).json()
    assert record["status"] == "firing" and record["severity"] == "critical"
    assert PAGERDUTY["routing_key"] not in json.dumps(record), "routing keys are never stored whole"
    resolve = {**PAGERDUTY, "event_action": "resolve"}
    sink.post("/v2/enqueue", json=resolve)
    assert len(sink.get("/api/notifications", params={"status": "resolved", "kind": "pagerduty"}).json()) == 1


@pytest.mark.parametrize("body, error", [
    ({**PAGERDUTY, "routing_key": "short"}, "routing_key must be a 32 character string"),
    ({**PAGERDUTY, "event_action": "explode"}, "event_action must be one of"),
    ({**PAGERDUTY, "payload": {"summary": "x", "source": "y"}}, "payload.severity is required"),
    ({**PAGERDUTY, "payload": {**PAGERDUTY["payload"], "severity": "meh"}}, "payload.severity must be one of"),
])
def test_invalid_pagerduty_events_get_400_and_are_kept(sink, body, error):
    response = sink.post("/v2/enqueue", json=body)
    assert response.status_code == 400 and any(error in e for e in response.json()["errors"])
    kept = sink.get("/api/notifications", params={"kind": "malformed"}).json()
    assert len(kept) == 1 and error in kept[0]["error"]


def test_malformed_slack_and_webhook_payloads_get_400_never_a_crash(sink):
    assert sink.post("/slack/alerts-info", content=b"{not json").text == "invalid_payload"
    assert sink.post("/slack/alerts-info", json={"channel": "#x"}).status_code == 400
    assert sink.post("/webhook", content=b"[]").status_code == 400
    assert len(sink.get("/api/notifications", params={"kind": "malformed"}).json()) == 3
    assert sink.get("/health").json() == {"status": "ok"}


def test_records_survive_a_restart(tmp_path):
    first = TestClient(create_sink(tmp_path))
    first.post("/webhook", json={"receiver": "r", "status": "firing", "alerts": [{"labels": {"alertname": "A"}}]})
    again = TestClient(create_sink(tmp_path))
    assert [r["alertnames"] for r in again.get("/api/notifications").json()] == [["A"]]


def test_the_page_shows_notifications_as_slack_and_pagerduty_would(sink):
    sink.post("/slack/alerts-critical", json=SLACK)
    sink.post("/v2/enqueue", json=PAGERDUTY)
    sink.post("/slack/alerts-critical", json={**SLACK, "attachments": [{**SLACK["attachments"][0],
                                                                          "text": "<script>alert(1)</script>"}]})
    page = sink.get("/").text
    assert "[FIRING:1] ServiceDown receipt-vault-backend (critical)" in page
    assert "<b>Summary:</b>" in page and 'href="http://127.0.0.1:9099/runbooks/ServiceDown"' in page
    assert "View Dashboard" in page and 'class="sev critical"' in page and "#e01e5a" in page
    assert "<script>" not in page and "&lt;script&gt;" in page, "payload text is escaped"


def test_runbooks_are_served_as_html_and_unknown_ones_list_the_rest(sink):
    page = sink.get("/runbooks/ServiceDown")
    assert page.status_code == 200
    assert "<h1>ServiceDown</h1>" in page.text and "<ol>\n<li>Check <code>up</code>.</li>\n</ol>" in page.text
    assert '<b>bold</b> <a href="http://x">link</a>' in page.text
    missing = sink.get("/runbooks/Nope")
    assert missing.status_code == 404 and "/runbooks/ServiceDown" in missing.text
