"""Refuse to start anything when the machine cannot run the stack, saying what to do."""

from __future__ import annotations

import errno
import re
import socket

from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal.errors import RvlocalError
from rvlocal.services import SERVICE_PORT_VARS, Service

BOOTSTRAP_HINT = "On Debian, scripts/bootstrap.sh installs and starts it; elsewhere start Docker Desktop."


def check_engine(docker: DockerClient) -> str:
    try:
        return docker.system.info().server_version or "unknown"
    except DockerException as exc:
        tail = (exc.stderr or "").strip().splitlines()[-1:] or [""]
        raise RvlocalError(f"no Docker engine answers ({tail[0]})", BOOTSTRAP_HINT) from exc
    except FileNotFoundError as exc:
        raise RvlocalError("the docker command is not installed", BOOTSTRAP_HINT) from exc


def check_compose_v2(docker: DockerClient) -> str:
    try:
        version = docker.compose.version()
    except DockerException as exc:
        raise RvlocalError(
            "Docker Compose v2 (the `docker compose` plugin) is missing",
            "Install the compose plugin (scripts/bootstrap.sh does on Debian); "
            "the old docker-compose v1 is not supported.") from exc
    match = re.search(r"v?(\d+)\.\d+", version)
    if not match or int(match.group(1)) < 2:
        raise RvlocalError(f"Docker Compose {version} is too old", "rvlocal needs Compose v2.")
    return version


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # SO_REUSEADDR: connections in TIME_WAIT (a stack just stopped) do not count as taken;
        # a process listening on the port still does.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports(services: list[Service], env: dict[str, str], own_ports: set[int]) -> None:
    """Every published port must be free, except those this very stack already holds."""
    taken = []
    for service in services:
        for var in SERVICE_PORT_VARS[service.name]:
            port = int(env[var])
            if port not in own_ports and not port_is_free(port):
                taken.append(f"{port} ({service.name})")
    if taken:
        which = ", ".join(taken)
        raise RvlocalError(
            f"port{'s' if len(taken) > 1 else ''} {which} on 127.0.0.1 "
            f"{'are' if len(taken) > 1 else 'is'} in use by another process; nothing was started",
            "Stop that process, or run rvlocal up --port-offset 100 (and use the same "
            "--project-name for status and down).")
