"""compose.yaml and the service configs say what production says, and nothing unsafe."""

from __future__ import annotations

import re

import pytest
import yaml

from rvlocal.project import Project
from rvlocal.services import SERVICE_PORT_VARS, SERVICES

EXPECTED = {"prometheus", "alertmanager", "grafana", "loki", "promtail", "jaeger", "backend", "alert-sink"}
DEFAULT_PORTS = {"PROMETHEUS_PORT": "9090", "ALERTMANAGER_PORT": "9093", "GRAFANA_PORT": "3000",
                 "LOKI_PORT": "3100", "PROMTAIL_PORT": "9080", "JAEGER_UI_PORT": "16686",
                 "JAEGER_OTLP_GRPC_PORT": "4317", "JAEGER_OTLP_HTTP_PORT": "4318",
                 "BACKEND_PORT": "8000", "ALERT_SINK_PORT": "9099"}


@pytest.fixture(scope="module")
def compose(project: Project) -> dict:
    return yaml.safe_load(project.compose_file.read_text())


def test_exactly_the_production_services_plus_the_alloy_switch(compose):
    default = {n for n, s in compose["services"].items() if not s.get("profiles")}
    assert default == EXPECTED
    assert compose["services"]["alloy"]["profiles"] == ["alloy"]
    assert {s.name for s in SERVICES} == set(compose["services"])


def test_every_port_is_published_on_loopback_only(compose):
    for name, svc in compose["services"].items():
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond 127.0.0.1"


def test_default_ports_match_production(project):
    versions = project.versions()
    for var, port in DEFAULT_PORTS.items():
        assert versions[var] == port


def test_every_image_comes_from_the_version_file(compose, project):
    versions = project.versions()
    for name, svc in compose["services"].items():
        match = re.fullmatch(r"\$\{(\w+)\}", svc["image"])
        assert match, f"{name}: image must be a ${{VAR}} from compose/.env, got {svc['image']}"
        assert match.group(1) in versions
    assert versions["JAEGER_IMAGE"].startswith("jaegertracing/jaeger:2.")
    assert versions["GRAFANA_IMAGE"].startswith("grafana/grafana:")


def test_readiness_is_defined_for_every_service(compose):
    for service in SERVICES:
        has_healthcheck = "healthcheck" in compose["services"][service.name]
        assert has_healthcheck == service.docker_healthcheck, service.name
        assert service.probe_path.startswith("/"), service.name
    loki = compose["services"]["loki"]["healthcheck"]["test"]
    assert loki == ["CMD", "/usr/bin/loki", "-health"], "Loki's image is distroless"


def test_python_services_run_under_init_and_as_non_root(compose, project):
    for name in ("backend", "alert-sink"):
        assert compose["services"][name]["init"] is True
    dockerfile = (project.compose_dir / "backend" / "Dockerfile").read_text()
    assert re.search(r"^USER 65534", dockerfile, re.M)
    assert "ARG BASE_IMAGE=" in dockerfile


def test_data_lives_in_named_volumes(compose):
    mounts = {n: [v for v in s.get("volumes", [])] for n, s in compose["services"].items()}
    for name, target in (("prometheus", "/prometheus"), ("alertmanager", "/alertmanager"),
                         ("grafana", "/var/lib/grafana"), ("loki", "/loki")):
        assert f"{name}-data:{target}" in mounts[name]
        assert f"{name}-data" in compose["volumes"]


def test_grafana_never_gets_a_default_password(compose):
    env = compose["services"]["grafana"]["environment"]
    assert "GF_SECURITY_ADMIN_PASSWORD" not in env
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana_admin_password"
    assert env["GF_DATAPROXY_TIMEOUT"] == "30"
    assert env["GF_QUERY_CONCURRENT_QUERY_COUNT"] == "20"


def test_prometheus_mirrors_production(compose, project):
    flags = compose["services"]["prometheus"]["command"]
    assert "--storage.tsdb.retention.time=30d" in flags
    assert "--storage.tsdb.retention.size=50GB" in flags
    config = yaml.safe_load((project.compose_dir / "prometheus" / "prometheus.yml").read_text())
    assert config["global"]["scrape_interval"] == "15s"
    assert config["global"]["evaluation_interval"] == "15s"
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "alertmanager", "grafana", "loki", "promtail", "alloy", "jaeger",
                         "receipt-vault-backend"}
    for name, job in jobs.items():
        drops = [r for r in job.get("metric_relabel_configs", []) if r.get("action") == "drop"]
        assert any(r["regex"] == "unwanted_metric_.*" for r in drops), f"{name} keeps unwanted_metric_*"


def test_loki_keeps_31_days_on_schema_v13(project):
    loki = yaml.safe_load((project.compose_dir / "loki" / "loki.yaml").read_text())
    assert loki["limits_config"]["retention_period"] == "744h"
    assert loki["compactor"]["retention_enabled"] is True
    schema = loki["schema_config"]["configs"][-1]
    assert (schema["store"], schema["schema"], schema["object_store"]) == ("tsdb", "v13", "filesystem")


def test_grafana_datasources_have_fixed_uids(project):
    ds = yaml.safe_load((project.compose_dir / "grafana/provisioning/datasources/datasources.yaml").read_text())
    assert {d["uid"]: d["type"] for d in ds["datasources"]} == {
        "prometheus": "prometheus", "loki": "loki", "jaeger": "jaeger"}


def test_jaeger_is_v2_with_otlp_and_memory_storage(project):
    cfg = yaml.safe_load((project.compose_dir / "jaeger" / "jaeger.yaml").read_text())
    protocols = cfg["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert cfg["extensions"]["jaeger_storage"]["backends"]["memstore"]["memory"]["max_traces"] > 0


def test_every_service_port_var_exists(project):
    versions = project.versions()
    for name, vars_ in SERVICE_PORT_VARS.items():
        for var in vars_:
            assert var in versions, f"{name}: {var} missing from compose/.env"


def test_grafana_links_metrics_logs_and_traces(project):
    ds = {d["uid"]: d for d in yaml.safe_load(
        (project.compose_dir / "grafana/provisioning/datasources/datasources.yaml").read_text())["datasources"]}
    assert ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"] == [{"name": "trace_id", "datasourceUid": "jaeger"}]
    derived = ds["loki"]["jsonData"]["derivedFields"][0]
    assert (derived["name"], derived["datasourceUid"]) == ("trace_id", "jaeger")
    to_logs = ds["jaeger"]["jsonData"]["tracesToLogsV2"]
    assert to_logs["datasourceUid"] == "loki" and "__span.traceId" in to_logs["query"]
    assert ds["jaeger"]["jsonData"]["tracesToMetrics"]["datasourceUid"] == "prometheus"


def test_promtail_and_alloy_label_and_filter_the_same_way(project):
    promtail = yaml.safe_load((project.compose_dir / "promtail" / "promtail.yaml").read_text())
    job = promtail["scrape_configs"][0]
    assert {r["target_label"] for r in job["relabel_configs"]} >= {"container", "service"}
    stages = job["pipeline_stages"]
    assert any("drop" in s and "/health" in s["drop"]["expression"] for s in stages)
    backend = next(s["match"] for s in stages if "match" in s)
    assert "level" in backend["stages"][0]["json"]["expressions"]
    alloy = (project.compose_dir / "alloy" / "config.alloy").read_text()
    assert "stage.drop" in alloy and "/health" in alloy and "level" in alloy and "trace_id" in alloy
