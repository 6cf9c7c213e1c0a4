"""The stack against real containers: offline images, rvlocal up/status/down, persistence,
idempotence and port preflight. Each test runs its own compose project on free ports."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
from prometheus_api_client import PrometheusConnect
from testcontainers.compose import DockerCompose

from rvlocal import state
from rvlocal.errors import RvlocalError
from rvlocal.stack import PROJECT_LABEL, Stack, UpOptions

pytestmark = [pytest.mark.integration, pytest.mark.docker]

ALWAYS_AVAILABLE = {"prometheus", "alertmanager", "backend", "alert-sink"}


def leftovers(docker, name: str) -> dict[str, list]:
    label = [("label", f"{PROJECT_LABEL}={name}")]
    return {
        "containers": docker.container.list(all=True, filters=label),
        "networks": docker.network.list(filters=label),
        "volumes": docker.volume.list(filters=label),
    }


@pytest.fixture
def stack(project, stack_name, docker):
    s = Stack(project, stack_name)
    yield s
    s.down(volumes=True)
    state.env_path(project, stack_name).unlink(missing_ok=True)


def wait_for_sample(prom: PrometheusConnect, query: str, timeout: float = 60.0) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = prom.custom_query(query)
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"{query} returned nothing within {timeout:.0f}s")


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rvlocal.cli", *args], capture_output=True, text=True,
                          timeout=600)


def test_offline_prometheus_scrapes_the_backend(project, stack, stack_name, port_offset, tmp_path):
    env, usable, _unavailable, _ = stack.prepare(UpOptions(stack_name, port_offset=port_offset))
    assert ALWAYS_AVAILABLE <= {s.name for s in usable}
    env_file = tmp_path / "compose.env"
    env_file.write_text(state.env_path(project, stack_name).read_text() + f"COMPOSE_PROJECT_NAME={stack_name}\n")
    state.ensure_grafana_password(project)
    with DockerCompose(project.compose_dir, "compose.yaml", env_file=str(env_file),
                       services=["prometheus", "backend"], wait=True):
        prom = PrometheusConnect(url=f"http://127.0.0.1:{env['PROMETHEUS_PORT']}", disable_ssl=True)
        assert prom.check_prometheus_connection()
        result = wait_for_sample(prom, 'up{job="receipt-vault-backend"} == 1')
        assert result[0]["metric"]["service"] == "receipt-vault-backend"
        scraped = wait_for_sample(prom, "receipt_vault_requests_total")
        # the compose healthcheck probes readiness, as the kubelet does in production
        assert {r["metric"]["endpoint"] for r in scraped} >= {"/health/readiness"}


def test_up_status_second_up_and_down_leave_nothing_behind(project, stack_name, port_offset, docker):
    common = ["--project-name", stack_name, "--root", str(project.root)]
    try:
        first = cli("up", *common, "--port-offset", str(port_offset), "--timeout", "120")
        assert first.returncode == 0, first.stderr
        assert "Not started (no image)" in first.stdout or "grafana" in first.stdout

        statuses = {s["service"]: s for s in json.loads(cli("status", "--json", *common).stdout)}
        for name in ALWAYS_AVAILABLE:
            assert (statuses[name]["state"], statuses[name]["health"]) == ("running", "healthy"), statuses[name]
            assert statuses[name]["url"].startswith("http://127.0.0.1:")
        for name, s in statuses.items():
            if name not in ALWAYS_AVAILABLE and s["state"] == "missing":
                assert s["image"], "an unavailable service still names its image"

        before = {c.id: c.state.started_at for c in leftovers(docker, stack_name)["containers"]}
        second = cli("up", *common, "--port-offset", str(port_offset))
        assert second.returncode == 0, second.stderr
        after = {c.id: c.state.started_at for c in leftovers(docker, stack_name)["containers"]}
        assert after == before, "a second up must not recreate or restart anything"
    finally:
        down = cli("down", "--volumes", *common)
    assert down.returncode == 0, down.stderr
    assert leftovers(docker, stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_a_series_survives_down_and_up_without_volumes(stack, stack_name, port_offset):
    options = UpOptions(stack_name, port_offset=port_offset, timeout=120)
    env = state.apply_port_offset(stack.project.versions(), port_offset)
    stack.up(options)
    prom = PrometheusConnect(url=f"http://127.0.0.1:{env['PROMETHEUS_PORT']}", disable_ssl=True)
    sample = wait_for_sample(prom, 'up{job="prometheus"}')
    written_at = float(sample[0]["value"][0])

    stack.down(volumes=False)
    stack.up(options)
    again = prom.custom_query('up{job="prometheus"}', params={"time": written_at})
    assert again and float(again[0]["value"][0]) == written_at


def test_a_taken_port_fails_up_before_any_container_exists(stack, stack_name, port_offset, docker):
    env = state.apply_port_offset(stack.project.versions(), port_offset)
    port = int(env["ALERTMANAGER_PORT"])
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(RvlocalError) as exc:
            stack.up(UpOptions(stack_name, port_offset=port_offset))
    assert f"{port} (alertmanager)" in exc.value.message
    assert leftovers(docker, stack_name)["containers"] == []


@pytest.mark.requires_image("GRAFANA_IMAGE")
def test_grafana_accepts_the_generated_password_and_refuses_admin_admin(stack, stack_name, port_offset):
    import httpx

    result = stack.up(UpOptions(stack_name, port_offset=port_offset, timeout=180))
    env = stack.env()
    url = f"http://127.0.0.1:{env['GRAFANA_PORT']}/api/user"
    password = result.grafana_password_file.read_text().strip()
    assert httpx.get(url, auth=("admin", password)).status_code == 200
    assert httpx.get(url, auth=("admin", "admin")).status_code == 401


@pytest.mark.requires_image("LOKI_IMAGE")
@pytest.mark.requires_image("PROMTAIL_IMAGE")
@pytest.mark.requires_image("JAEGER_IMAGE")
def test_logs_and_traces_services_become_ready(stack, stack_name, port_offset):
    stack.up(UpOptions(stack_name, port_offset=port_offset, timeout=180))
    ready = {s.service: s.ready for s in stack.status()}
    assert ready["loki"] and ready["promtail"] and ready["jaeger"]


def test_a_broken_config_fails_up_before_any_container_exists(project, stack_name, port_offset, docker,
                                                              tmp_path):
    import shutil

    from rvlocal.project import Project

    for folder in ("compose", "alerts", "dashboards", "rvlocal/backend"):
        shutil.copytree(project.root / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(project.root / "rvlocal/__init__.py", tmp_path / "rvlocal/__init__.py")
    config = tmp_path / "compose/prometheus/prometheus.yml"
    config.write_text(config.read_text().replace("scrape_interval: 15s", "scrape_interval: fifteen"))

    broken = Stack(Project(tmp_path), stack_name)
    try:
        with pytest.raises(RvlocalError) as exc:
            broken.up(UpOptions(stack_name, port_offset=port_offset))
        assert "promtool check config" in exc.value.message
        assert "fifteen" in exc.value.message, "the checker's own words reach the user"
        assert leftovers(docker, stack_name)["containers"] == []
    finally:
        broken.down(volumes=True)
