"""Alerts end to end on real containers (prometheus, alertmanager, backend, alert-sink): a
fault makes the production rules fire, Alertmanager routes them by severity, and the sink
receives exactly the Slack and PagerDuty payloads production would send.

The stack runs `rvlocal up --fast-alerts`: the same rule and routing files with `for` capped at
15s, windows at 1m and group timings at 5s/10s (rvlocal/rules.py derives it; no second copy).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from rvlocal import load
from rvlocal.chaos import FaultClient, start_service, stop_service
from tests.conftest import stack_up

pytestmark = [pytest.mark.integration, pytest.mark.docker]

SCENARIO_BUDGET_S = 180  # each scenario, fault to resolved notification


class Sink:
    def __init__(self, url: str) -> None:
        self.url = url

    def notifications(self, **filters) -> list[dict]:
        return httpx.get(f"{self.url}/api/notifications", params=filters, timeout=5).json()

    def wait_for(self, timeout: float, **filters) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.notifications(**filters)
            if found:
                return found[-1]
            time.sleep(1)
        pytest.fail(f"no notification {filters} within {timeout:.0f}s; the sink has: "
                    f"{[(r['kind'], r['receiver'], r['status'], r['alertnames']) for r in self.notifications()]}")


@pytest.fixture(scope="module")
def alerting_stack(project):
    with stack_up(project, 31000, fast_alerts=True) as stack:
        env = stack.env()
        yield stack, env, Sink(f"http://127.0.0.1:{env['ALERT_SINK_PORT']}")


def test_service_down_pages_and_posts_to_slack_then_resolves(alerting_stack):
    stack, env, sink = alerting_stack
    started = time.monotonic()
    stop_service(stack, "backend")
    try:
        page = sink.wait_for(120, kind="pagerduty", alertname="ServiceDown", status="firing")
        slack = sink.wait_for(30, kind="slack", receiver="#alerts-critical", alertname="ServiceDown", status="firing")
    finally:
        start_service(stack, "backend")

    assert page["severity"] == "critical"
    assert page["title"] == "[FIRING] ServiceDown on receipt-vault-backend: receipt-vault-backend is down"
    details = page["details"]
    assert details["runbook_url"] == "http://127.0.0.1:9099/runbooks/ServiceDown"
    assert details["dashboard_url"] == "http://127.0.0.1:3000/d/rv-operational?var-service=receipt-vault-backend"
    assert details["firing"] == ["Prometheus has not been able to scrape backend:8000 (job receipt-vault-backend) "
                                 "for over a minute (up = 0)."]
    assert page["payload"]["routing_key"].startswith("…"), "the sink never keeps a routing key whole"

    assert slack["title"] == "[FIRING:1] ServiceDown receipt-vault-backend (critical)"
    assert "*Summary:* receipt-vault-backend is down" in slack["text"]
    assert slack["color"] == "danger"
    assert slack["buttons"] == [
        {"text": "View Dashboard", "url": "http://127.0.0.1:3000/d/rv-operational?var-service=receipt-vault-backend"},
        {"text": "Runbook", "url": "http://127.0.0.1:9099/runbooks/ServiceDown"}]
    assert not sink.notifications(alertname="ServiceDown", receiver="#alerts-warning"), "critical goes to critical"
    runbook = httpx.get(f"{sink.url}/runbooks/ServiceDown", timeout=5)
    assert runbook.status_code == 200 and "Immediate Actions" in runbook.text

    sink.wait_for(120, kind="slack", receiver="#alerts-critical", alertname="ServiceDown", status="resolved")
    sink.wait_for(30, kind="pagerduty", alertname="ServiceDown", status="resolved")
    assert time.monotonic() - started < SCENARIO_BUDGET_S


def test_error_rate_fires_the_critical_only_and_clear_resolves_it(alerting_stack):
    stack, env, sink = alerting_stack
    url = f"http://127.0.0.1:{env['BACKEND_PORT']}"
    deadline = time.monotonic() + 170
    done = threading.Event()
    plan = load.LoadPlan(url, rps=20, duration_s=170, mix=load.Mix(0.2, 0.3, 0.5), seed=9)
    traffic = threading.Thread(target=load.run_sync, args=(plan,),
                               kwargs={"stop": lambda: done.is_set() or time.monotonic() > deadline}, daemon=True)
    traffic.start()
    faults = FaultClient.for_stack(stack)
    started = time.monotonic()
    try:
        faults.set("error_rate", 0.5, for_seconds=300)
        page = sink.wait_for(150, kind="pagerduty", alertname="HighErrorRate", status="firing")
        slack = sink.wait_for(30, kind="slack", receiver="#alerts-critical", alertname="HighErrorRate", status="firing")
        assert page["severity"] == "critical" and "of API requests fail" in page["title"]
        assert slack["title"] == "[FIRING:1] HighErrorRate receipt-vault-backend (critical)"

        # Both severities fire in Prometheus; the critical inhibits the warning in Alertmanager.
        alerts = httpx.get(f"http://127.0.0.1:{env['ALERTMANAGER_PORT']}/api/v2/alerts", timeout=5).json()
        warning = [a for a in alerts if a["labels"]["alertname"] == "HighErrorRate" and a["labels"]["severity"] == "warning"]
        assert warning and warning[0]["status"]["state"] == "suppressed" and warning[0]["status"]["inhibitedBy"]
        assert not [r for r in sink.notifications(alertname="HighErrorRate") if r.get("severity") == "warning"], \
            "the warning of the same alert and service must not be delivered while the critical fires"

        faults.clear()
        sink.wait_for(150, kind="slack", receiver="#alerts-critical", alertname="HighErrorRate", status="resolved")
        sink.wait_for(30, kind="pagerduty", alertname="HighErrorRate", status="resolved")
        assert time.monotonic() - started < SCENARIO_BUDGET_S
    finally:
        faults.clear()
        done.set()
        traffic.join(30)
