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
    # Readiness: None means Docker's healthcheck decides; a path means rvlocal probes
    # http://127.0.0.1:<probe_port_var><path> from the host (images without shell tools).
    probe_path: str | None = None
    probe_port_var: str | None = None
    offline_recipe: str | None = None  # key in rvlocal.offline.RECIPES
    built_from_repo: bool = False
    profile: str | None = None  # compose profile that enables it


SERVICES: tuple[Service, ...] = (
    Service("prometheus", "PROMETHEUS_IMAGE", "PROMETHEUS_PORT", offline_recipe="prometheus"),
    Service("alertmanager", "ALERTMANAGER_IMAGE", "ALERTMANAGER_PORT", offline_recipe="alertmanager"),
    Service("grafana", "GRAFANA_IMAGE", "GRAFANA_PORT"),
    Service("loki", "LOKI_IMAGE", "LOKI_PORT", url_path="/ready"),
    Service("promtail", "PROMTAIL_IMAGE", "PROMTAIL_PORT", url_path="/targets",
            probe_path="/ready", probe_port_var="PROMTAIL_PORT"),
    Service("alloy", "ALLOY_IMAGE", "ALLOY_PORT", probe_path="/-/ready",
            probe_port_var="ALLOY_PORT", profile="alloy"),
    Service("jaeger", "JAEGER_IMAGE", "JAEGER_UI_PORT", probe_path="/status",
            probe_port_var="JAEGER_HEALTH_PORT"),
    Service("backend", "BACKEND_IMAGE", "BACKEND_PORT", url_path="/health", built_from_repo=True),
    Service("alert-sink", "BACKEND_IMAGE", "ALERT_SINK_PORT", url_path="/api/notifications",
            built_from_repo=True),
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
    other = "alloy" if logs_agent == "promtail" else "promtail"
    return [s for s in SERVICES if s.name != other]
