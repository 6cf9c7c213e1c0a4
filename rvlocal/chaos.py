"""Chaos against the local stack: the backend's fault injection API, and stopping/starting
containers. Faults with a duration revert by themselves (the backend expires them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
from python_on_whales.exceptions import DockerException

from rvlocal import state
from rvlocal.durations import format_duration
from rvlocal.errors import RvlocalError, docker_failure
from rvlocal.load import require_local
from rvlocal.services import SERVICES, by_name, profiles_of
from rvlocal.stack import Stack

FAULT_NAMES = ("error_rate", "extra_latency_ms", "ocr_failure_rate", "ocr_latency_multiplier", "readiness_down")


class FaultClient:
    """The backend's /admin/faults API."""

    def __init__(self, url: str, token: str, timeout: float = 5.0) -> None:
        require_local(url)
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}"})

    @classmethod
    def for_stack(cls, stack: Stack) -> "FaultClient":
        env = stack.env()
        return cls(f"http://127.0.0.1:{env['BACKEND_PORT']}", state.read_admin_token(stack.project))

    def get(self) -> dict[str, dict[str, Any]]:
        return self._call("GET")

    def set(self, name: str, value: Any, for_seconds: float | None = None) -> dict[str, dict[str, Any]]:
        if name not in FAULT_NAMES:
            raise RvlocalError(f"unknown fault {name!r}", f"Faults: {', '.join(FAULT_NAMES)}.")
        fault: dict[str, Any] = {"value": value}
        if for_seconds:
            fault["for_seconds"] = for_seconds
        return self._call("PUT", {name: fault})

    def clear(self) -> dict[str, dict[str, Any]]:
        return self._call("DELETE")

    def _call(self, method: str, body: dict | None = None) -> dict[str, dict[str, Any]]:
        try:
            response = self._http.request(method, "/admin/faults", json=body)
        except httpx.HTTPError as exc:
            raise RvlocalError(f"the backend at {self.url} did not answer: {exc}",
                               "Is the stack up? Run rvlocal up (or rvlocal status to see).") from None
        if response.status_code == 401:
            raise RvlocalError("the backend refused the admin token",
                               "It runs with another token than .rvlocal/backend-admin-token; "
                               "rvlocal up recreates the backend with the current one.")
        if response.status_code == 422:
            problems = "; ".join(f"{'.'.join(str(p) for p in d['loc'][1:])}: {d['msg']}"
                                 for d in response.json().get("detail", []))
            raise RvlocalError(f"the backend rejected the fault: {problems}", "See rvlocal chaos --help.")
        if response.status_code != 200:
            raise RvlocalError(f"/admin/faults answered {response.status_code}: {response.text[:300]}")
        return response.json()


def describe(snapshot: dict[str, dict[str, Any]], names: tuple[str, ...] = FAULT_NAMES) -> list[str]:
    """One line per fault: its value and when it reverts."""
    lines = []
    for name in names:
        fault = snapshot[name]
        if not fault["active"]:
            lines.append(f"{name}: off")
            continue
        when = "until rvlocal chaos clear"
        if fault["remaining_seconds"] is not None:
            local = (datetime.now() + timedelta(seconds=fault["remaining_seconds"])).strftime("%H:%M:%S")
            when = f"reverts at {local} (in {format_duration(fault['remaining_seconds'])})"
        lines.append(f"{name} = {fault['value']} — {when}")
    return lines


def stop_service(stack: Stack, service: str) -> None:
    _compose_action(stack, service, "stop")


def start_service(stack: Stack, service: str) -> None:
    _compose_action(stack, service, "start")


def _compose_action(stack: Stack, service: str, action: str) -> None:
    by_name(service)  # an unknown name gets the list of known ones
    if service not in stack.containers():
        raise RvlocalError(f"{service} has no container in stack {stack.name!r}",
                           f"Run rvlocal up --project-name {stack.name} first (rvlocal status shows what runs).")
    compose = stack.compose(profiles=profiles_of(SERVICES))
    try:
        getattr(compose.compose, action)([service])
    except DockerException as exc:
        raise docker_failure(f"docker compose {action} {service}", exc) from exc
