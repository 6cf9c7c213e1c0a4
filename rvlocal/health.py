"""Readiness of each service: its own readiness endpoint answers 200 through the published
port on 127.0.0.1. Docker's in-container healthcheck, where the image has one, can still
declare it unhealthy; rvlocal does not wait for that check's next tick to call it ready."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from rvlocal.services import Service


@dataclass
class Readiness:
    service: str
    state: str  # running, exited, created, missing, unavailable
    health: str  # healthy, starting, unhealthy, none
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health == "healthy"

    @property
    def failed(self) -> bool:
        return self.state in ("exited", "dead") or self.health == "unhealthy"


def probe_http(url: str, timeout: float = 1.0) -> bool:
    import httpx  # imported here: the CLI's start-up time counts in every `rvlocal up`

    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def readiness_of(service: Service, container, env: dict[str, str],
                 probe: Callable[[str], bool] = probe_http) -> Readiness:
    """`container` is a python-on-whales Container (or None when compose has none)."""
    if container is None:
        return Readiness(service.name, "missing", "none")
    state = container.state
    status = state.status or "unknown"
    if status != "running":
        return Readiness(service.name, status, "none", f"exit code {state.exit_code}")
    docker_health = state.health.status if state.health else None
    if docker_health == "unhealthy":
        return Readiness(service.name, "running", "unhealthy", "Docker healthcheck failing")
    url = f"http://127.0.0.1:{env[service.probe_port_var or service.port_var]}{service.probe_path}"
    return Readiness(service.name, "running", "healthy" if probe(url) else "starting", url)


def wait_ready(services: list[Service], containers: Callable[[], dict], env: dict[str, str],
               timeout: float, on_update: Callable[[list[Readiness]], None] = lambda r: None,
               interval: float = 0.25, clock=time.monotonic, sleep=time.sleep) -> list[Readiness]:
    """Poll until every service is ready, one has failed for good, or `timeout` passes."""
    deadline = clock() + timeout
    while True:
        current = containers()
        states = [readiness_of(s, current.get(s.name), env) for s in services]
        on_update(states)
        if all(r.ready for r in states) or any(r.failed for r in states) or clock() >= deadline:
            return states
        sleep(interval)
