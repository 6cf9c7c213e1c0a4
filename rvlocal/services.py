"""What rvlocal knows about each compose service: image key, ports, readiness probe, recipe.

compose/compose.yaml is the wiring; this table only adds what compose cannot say
(how to reach a service from the host, and how to get its image without a registry).
"""

from __future__ import annotations

from dataclasses import dataclass

from rvlocal.errors import RvlocalError


@dataclass(frozen=True)
class Service:
    name: str
    image_var: str  # key in compose/.env holding the image reference
    port_var: str  # key of the main published port
    url_path: str = "/"  # printed URL path
    # Readiness: rvlocal probes http://127.0.0.1:<probe_port_var or port_var><probe_path> from
    # the host, which also proves the published port works. Docker's in-container healthcheck
    # (where the image can run one) still marks a service unhealthy.
    probe_path: str = "/"
    probe_port_var: str | None = None
    docker_healthcheck: bool = True
    offline_recipe: str | None = None  # key in rvlocal.offline.RECIPES
    built_from_repo: bool = False
    profile: str | None = None  # compose profile that enables it


SERVICES: tuple[Service, ...] = (
    Service("prometheus", "PROMETHEUS_IMAGE", "PROMETHEUS_PORT", probe_path="/-/ready",
            offline_recipe="prometheus"),
    Service("alertmanager", "ALERTMANAGER_IMAGE", "ALERTMANAGER_PORT", probe_path="/-/ready",
            offline_recipe="alertmanager"),
    Service("grafana", "GRAFANA_IMAGE", "GRAFANA_PORT", probe_path="/api/health"),
    Service("loki", "LOKI_IMAGE", "LOKI_PORT", probe_path="/ready"),
    # No wget/curl in Promtail's image, no guaranteed shell in Jaeger's or Alloy's: host probe only.
    Service("promtail", "PROMTAIL_IMAGE", "PROMTAIL_PORT", url_path="/targets",
            probe_path="/ready", docker_healthcheck=False),
    Service("alloy", "ALLOY_IMAGE", "ALLOY_PORT", probe_path="/-/ready", profile="alloy",
            docker_healthcheck=False),
    Service("jaeger", "JAEGER_IMAGE", "JAEGER_UI_PORT", probe_path="/status",
            probe_port_var="JAEGER_HEALTH_PORT", docker_healthcheck=False),
    Service("backend", "BACKEND_IMAGE", "BACKEND_PORT", url_path="/health",
            probe_path="/health/readiness", built_from_repo=True),
    Service("alert-sink", "BACKEND_IMAGE", "ALERT_SINK_PORT", url_path="/api/notifications",
            probe_path="/health", built_from_repo=True),
)

LOGS_AGENTS = ("promtail", "alloy")

PORT_VARS: tuple[str, ...] = (
    "PROMETHEUS_PORT", "ALERTMANAGER_PORT", "GRAFANA_PORT", "LOKI_PORT", "PROMTAIL_PORT",
    "ALLOY_PORT", "JAEGER_UI_PORT", "JAEGER_OTLP_GRPC_PORT", "JAEGER_OTLP_HTTP_PORT",
    "JAEGER_HEALTH_PORT", "BACKEND_PORT", "ALERT_SINK_PORT",
)

# Which published ports belong to which service (for "port 9090 (prometheus) is in use").
SERVICE_PORT_VARS: dict[str, tuple[str, ...]] = {
    "prometheus": ("PROMETHEUS_PORT",),
    "alertmanager": ("ALERTMANAGER_PORT",),
    "grafana": ("GRAFANA_PORT",),
    "loki": ("LOKI_PORT",),
    "promtail": ("PROMTAIL_PORT",),
    "alloy": ("ALLOY_PORT",),
    "jaeger": ("JAEGER_UI_PORT", "JAEGER_OTLP_GRPC_PORT", "JAEGER_OTLP_HTTP_PORT", "JAEGER_HEALTH_PORT"),
    "backend": ("BACKEND_PORT",),
    "alert-sink": ("ALERT_SINK_PORT",),
}


def by_name(name: str) -> Service:
    for service in SERVICES:
        if service.name == name:
            return service
    known = ", ".join(s.name for s in SERVICES)
    raise RvlocalError(f"unknown service {name!r}", f"Known services: {known}.")


def active_services(logs_agent: str = "promtail") -> list[Service]:
    """The services one stack runs: all but the logs agent not chosen."""
    return [s for s in SERVICES if s.name not in LOGS_AGENTS or s.name == logs_agent]


def profiles_of(services) -> list[str]:
    """The compose profiles that enable these services."""
    return sorted({s.profile for s in services if s.profile})
