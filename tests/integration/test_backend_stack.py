"""The backend in the real stack: Prometheus scrapes it (OpenMetrics, exemplars), `rvlocal load`
counts match what Prometheus counts, `rvlocal chaos` moves the 5xx ratio and `clear` brings it
back, and `chaos stop` takes the target down. One stack for the module, on free ports."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest
from prometheus_api_client import PrometheusConnect
from prometheus_client.parser import text_string_to_metric_families

from rvlocal import load
from rvlocal.chaos import start_service, stop_service
from rvlocal.stack import Stack
from tests.conftest import stack_up

pytestmark = [pytest.mark.integration, pytest.mark.docker]

API = 'receipt_vault_requests_total{job="receipt-vault-backend",endpoint=~"/api/.*"}'
SCRAPE_WAIT_S = 60  # production's 15 s scrape interval, with room for a slow machine


@pytest.fixture(scope="module")
def running(project):
    with stack_up(project, 30000) as stack:
        env = stack.env()
        prom = PrometheusConnect(url=f"http://127.0.0.1:{env['PROMETHEUS_PORT']}", disable_ssl=True)
        yield stack, prom, f"http://127.0.0.1:{env['BACKEND_PORT']}"


def value(prom: PrometheusConnect, query: str) -> float:
    result = prom.custom_query(f"sum({query})")
    return float(result[0]["value"][1]) if result else 0.0


def wait_until(prom: PrometheusConnect, query: str, expected: float, timeout: float = SCRAPE_WAIT_S) -> float:
    """Wait for a scrape that shows `expected`; return what was last seen."""
    deadline = time.monotonic() + timeout
    seen = value(prom, query)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(1)
        seen = value(prom, query)
    return seen


def settled(prom: PrometheusConnect, url: str) -> float:
    """Make the API series exist and wait until Prometheus has scraped their current value."""
    httpx.get(f"{url}/api/receipts", timeout=5)
    now = sum(s.value for f in _families(url) for s in f.samples
              if s.name == "receipt_vault_requests_total" and s.labels["endpoint"].startswith("/api/"))
    assert wait_until(prom, API, now) == now, "Prometheus never scraped the backend's API counters"
    return now


def _families(url: str):
    return list(text_string_to_metric_families(httpx.get(f"{url}/metrics", timeout=5).text))


def rvlocal(*args: str, stack: Stack) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rvlocal.cli", *args, "--project-name", stack.name,
                           "--root", str(stack.project.root)], capture_output=True, text=True, timeout=120)


def test_backend_runs_as_non_root_and_logs_json(running, docker):
    stack, _prom, url = running
    container = stack.containers()["backend"]
    assert container.config.user not in ("", "0", "root") and container.config.healthcheck is not None
    httpx.get(f"{url}/api/receipts", timeout=5)
    lines = [l for l in docker.container.logs(container).splitlines() if l.strip()]
    records = [json.loads(l) for l in lines]  # every line is one JSON object
    access = [r for r in records if r["msg"] == "request" and r["route"] == "/api/receipts"]
    assert access and len(access[-1]["trace_id"]) == 32


def test_load_counts_match_prometheus_and_exemplars_arrive(running):
    stack, prom, url = running
    before = settled(prom, url)
    plan = load.LoadPlan(url, rps=20, duration_s=10, mix=load.Mix.parse(load.DEFAULT_MIX), seed=5)
    result = load.run_sync(plan)
    assert result.completed == plan.total and result.errors == 0
    # Exact: the backend counts a request before its last byte leaves. Requests that got no
    # answer (none expected here) are the only tolerance.
    seen = wait_until(prom, API, before + result.completed)
    assert abs(seen - before - result.completed) <= result.transport_errors, (seen, before, result.completed)
    assert value(prom, f"rate({API}[1m])") > 0
    exemplars = _exemplars(prom, time.time())
    trace_ids = {e["labels"]["trace_id"] for series in exemplars for e in series["exemplars"]}
    assert trace_ids and all(len(t) == 32 for t in trace_ids), "Prometheus stored no trace_id exemplars"


def _exemplars(prom: PrometheusConnect, end: float) -> list:
    response = httpx.get(f"{prom.url}/api/v1/query_exemplars", params={
        "query": 'receipt_vault_request_duration_seconds_bucket{job="receipt-vault-backend"}',
        "start": end - 600, "end": end}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]


def test_chaos_error_rate_moves_the_5xx_ratio_and_clear_brings_it_back(running):
    stack, prom, url = running
    errors = API.replace('endpoint=~"/api/.*"', 'endpoint=~"/api/.*",status=~"5.."')
    total0, errors0 = settled(prom, url), value(prom, errors)

    on = rvlocal("chaos", "error-rate", "0.5", "--for", "5m", stack=stack)
    assert on.returncode == 0, on.stderr
    assert "error_rate = 0.5" in on.stdout and "reverts at" in on.stdout
    faulty = load.run_sync(load.LoadPlan(url, rps=20, duration_s=10, mix=load.Mix(0, 0, 1), seed=6))
    assert 0.3 < faulty.server_errors / faulty.completed < 0.7
    assert wait_until(prom, API, total0 + faulty.completed) == total0 + faulty.completed
    assert value(prom, errors) - errors0 == faulty.server_errors, "Prometheus sees the 5xx the load saw"

    off = rvlocal("chaos", "clear", stack=stack)
    assert off.returncode == 0 and "error_rate: off" in off.stdout, off.stderr
    total1, errors1 = value(prom, API), value(prom, errors)
    clean = load.run_sync(load.LoadPlan(url, rps=20, duration_s=5, mix=load.Mix(0, 0, 1), seed=7))
    assert clean.server_errors == 0
    assert wait_until(prom, API, total1 + clean.completed) == total1 + clean.completed
    assert value(prom, errors) == errors1, "no new 5xx after chaos clear"


def test_chaos_stop_takes_the_target_down_and_start_brings_it_back(running):
    stack, prom, url = running
    up = 'up{job="receipt-vault-backend"}'
    stop_service(stack, "backend")
    try:
        assert wait_until(prom, up, 0.0) == 0.0, "Prometheus still sees the backend up"
    finally:
        start_service(stack, "backend")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health/readiness", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    assert wait_until(prom, up, 1.0) == 1.0


def test_every_dashboard_query_returns_data_and_previews_render(running, tmp_path):
    """Under a short bounded load, every Prometheus query of every dashboard answers at least
    one series (what Grafana would draw), and the preview draws them into PNGs."""
    from datetime import datetime, timedelta

    from rvlocal import dashboards, preview

    stack, prom, url = running
    result = load.run_sync(load.LoadPlan(url, rps=10, duration_s=15, mix=load.Mix.parse(load.DEFAULT_MIX), seed=3))
    assert result.errors == 0
    targets = dashboards.prometheus_targets(stack.project)
    deadline = time.monotonic() + 90  # OCR finishes ~3 s later, then a scrape, then rule evaluation
    empty = targets
    while empty and time.monotonic() < deadline:
        empty = [(f, p, t, e) for f, p, t, e in empty if not prom.custom_query(e)]
        if empty:
            time.sleep(3)
    assert not empty, "queries without data:\n" + "\n".join(f'{f}: panel {p.id} "{p.title}" {t.ref}: {e}'
                                                           for f, p, t, e in empty)
    end = datetime.now()
    for path in dashboards.files(stack.project):
        png, no_data = preview.render(path, prom, end - timedelta(minutes=10), end, tmp_path / f"{path.stem}.png", "15s")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
        assert no_data == 0, f"{path.name}: {no_data} panels drew no data"


def test_the_meta_monitoring_metrics_rules_name_exist_on_the_live_components(running):
    """dashboards.COMPONENT_METRICS lets promotion accept metrics the backend does not expose;
    the Prometheus and Alertmanager ones exist from start-up, so they are checked here (the
    Loki, Promtail and Jaeger counters appear only once something is dropped)."""
    from rvlocal.dashboards import COMPONENT_METRICS
    _stack, prom, _url = running
    names = [n for n, component in COMPONENT_METRICS.items() if component in ("Prometheus", "Alertmanager")]
    assert len(names) == 2
    for name in names:
        assert wait_until(prom, f"count({name}) > bool 0", 1.0) == 1.0, f"{name} is not exposed"
