"""Compose control through python-on-whales: up, down, status, logs."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal import checks, images, preflight, rules, state
from rvlocal.errors import RvlocalError, docker_failure
from rvlocal.health import Readiness, readiness_of, wait_ready
from rvlocal.project import DEFAULT_PROJECT_NAME, Project
from rvlocal.services import LOGS_AGENTS, SERVICES, Service, active_services, profiles_of

Log = Callable[[str], None]
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"


@dataclass
class UpOptions:
    project_name: str = DEFAULT_PROJECT_NAME
    strict: bool = False
    timeout: float = 180.0
    port_offset: int = 0
    logs_agent: str = "promtail"
    fast_alerts: bool = False


@dataclass
class ServiceStatus:
    service: str
    state: str
    health: str
    url: str
    image: str
    detail: str = ""

    @property
    def ready(self) -> bool:
        return self.state == "running" and self.health == "healthy"


@dataclass
class UpResult:
    statuses: list[ServiceStatus]
    unavailable: dict[str, str] = field(default_factory=dict)
    rebuilt_backend: bool = False
    grafana_password_file: Path | None = None


def url_of(service: Service, env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env[service.port_var]}{service.url_path}"


class Stack:
    """One compose project of the rvlocal stack (several can run side by side)."""

    def __init__(self, project: Project, name: str = DEFAULT_PROJECT_NAME,
                 docker: DockerClient | None = None) -> None:
        self.project = project
        self.name = state.validate_project_name(name)
        self.docker = docker or DockerClient()

    # -- plumbing --------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """The env this stack runs (or would run) with."""
        return state.read_env(self.project, self.name) or self._base_env(0)

    def _base_env(self, port_offset: int) -> dict[str, str]:
        values = state.apply_port_offset(self.project.versions(), port_offset)
        values["RVLOCAL_PROJECT"] = self.name
        values["RVLOCAL_STATE_DIR"] = str(self.project.state_dir)
        return values

    def compose(self, env_file: Path | None = None, profiles: list[str] | None = None) -> DockerClient:
        env_file = env_file or state.env_path(self.project, self.name)
        if not env_file.exists():
            env_file = self.project.versions_file
        return DockerClient(
            compose_files=[self.project.compose_file],
            compose_env_files=[env_file],
            compose_project_name=self.name,
            compose_project_directory=self.project.compose_dir,
            compose_profiles=profiles or [],
        )

    def containers(self) -> dict[str, object]:
        """This project's containers by service name (running or not)."""
        found = self.docker.container.list(all=True, filters=[("label", f"{PROJECT_LABEL}={self.name}")])
        return {c.config.labels.get(SERVICE_LABEL, c.name): c for c in found}

    def own_ports(self) -> set[int]:
        ports: set[int] = set()
        for c in self.containers().values():
            for bindings in (c.network_settings.ports or {}).values():
                for b in bindings or []:
                    if b.get("HostPort"):
                        ports.add(int(b["HostPort"]))
        return ports

    # -- commands --------------------------------------------------------------------
    def prepare(self, options: UpOptions, log: Log = lambda m: None) -> tuple[dict[str, str], list[Service], dict[str, str], bool]:
        """Everything before compose up: preflight, images, env file, backend build.
        Returns (env, usable services, unavailable services with reasons, backend rebuilt)."""
        if options.logs_agent not in LOGS_AGENTS:
            raise RvlocalError(f"unknown logs agent {options.logs_agent!r}", "Use promtail or alloy.")
        preflight.check_engine(self.docker)
        preflight.check_compose_v2(self.docker)
        services = active_services(options.logs_agent)
        env = self._base_env(options.port_offset)
        preflight.check_ports(services, env, self.own_ports())

        plan = images.plan_with_docker(services, env, self.docker)
        images.ensure(plan, self.docker, log=log)
        unavailable = plan.unavailable
        if unavailable and options.strict:
            lines = "\n".join(f"  {n}: {why}" for n, why in unavailable.items())
            raise RvlocalError(f"--strict: some services have no image; nothing was started:\n{lines}",
                               "Run rvlocal images for details, or drop --strict to start the rest.")
        env.update(plan.env_overrides())
        env["RVLOCAL_LOGS_AGENT"] = options.logs_agent
        if options.fast_alerts:
            env.update(rules.write_fast_variant(self.project, self.name))
            log(f"fast alerts: for <= {rules.FAST_MAX_FOR}, windows <= {rules.FAST_MAX_WINDOW}, "
                f"group_wait {rules.FAST_GROUP_WAIT}, group_interval {rules.FAST_GROUP_INTERVAL}")
        state.write_env(self.project, self.name, env)
        state.ensure_secrets(self.project)
        usable = [s for s in services if s.name not in unavailable]
        rebuilt = False
        if any(s.built_from_repo for s in usable):
            rebuilt = images.build_backend(self.project, self.compose(), env["BACKEND_IMAGE"],
                                           env["PYTHON_BASE_IMAGE"], log=log)
        return env, usable, unavailable, rebuilt

    def up(self, options: UpOptions, log: Log = lambda m: None,
           on_readiness: Callable[[list[Readiness]], None] = lambda r: None) -> UpResult:
        env, usable, unavailable, rebuilt = self.prepare(options, log)
        compose = self.compose(profiles=profiles_of(usable))
        results = checks.check_all(
            self.project, compose,
            env["PROMETHEUS_IMAGE"] if "prometheus" not in unavailable else None,
            env["ALERTMANAGER_IMAGE"] if "alertmanager" not in unavailable else None, log=log)
        checks.raise_on_failure(results)
        password = state.grafana_password_file(self.project)

        names = [s.name for s in usable]
        log(f"docker compose up -d {' '.join(names)}")
        try:
            compose.compose.up(names, detach=True, pull="never", no_build=True, quiet=True)
        except DockerException as exc:
            raise docker_failure("docker compose up", exc,
                                 f"See rvlocal logs --project-name {self.name}; rvlocal down cleans up.") from exc

        states = wait_ready(usable, self.containers, env, options.timeout, on_readiness)
        not_ready = [r for r in states if not r.ready]
        if not_ready:
            detail = "\n".join(f"  {r.service}: {r.state}/{r.health} {r.detail}".rstrip() for r in not_ready)
            raise RvlocalError(
                f"not every service became ready within {options.timeout:.0f}s:\n{detail}",
                f"Look at rvlocal logs SERVICE --project-name {self.name}; "
                f"rvlocal down --project-name {self.name} stops what started.")
        self.reload_configs(names, env, log)
        return UpResult(self.status(), unavailable, rebuilt, password)

    def reload_configs(self, running: list[str], env: dict[str, str], log: Log = lambda m: None) -> None:
        """Containers that were already up keep the rule and routing files they loaded; both
        servers re-read them on POST /-/reload, so `rvlocal up` after an edit applies it."""
        for service, port_var in (("prometheus", "PROMETHEUS_PORT"), ("alertmanager", "ALERTMANAGER_PORT")):
            if service not in running:
                continue
            url = f"http://127.0.0.1:{env[port_var]}/-/reload"
            try:
                response = httpx.post(url, timeout=10)
            except httpx.HTTPError as exc:
                raise RvlocalError(f"{service} did not answer {url}: {exc}",
                                   f"Look at rvlocal logs {service} --project-name {self.name}.") from None
            if response.status_code != 200:
                raise RvlocalError(f"{service} refused to reload its configuration: {response.text.strip()[:500]}",
                                   f"rvlocal check shows what is wrong; rvlocal logs {service} more.")
            log(f"{service} reloaded its configuration")

    def status(self) -> list[ServiceStatus]:
        env = self.env()
        agent = env.get("RVLOCAL_LOGS_AGENT", "promtail")
        containers = self.containers()
        out = []
        for service in active_services(agent):
            c = containers.get(service.name)
            r = readiness_of(service, c, env)
            image = c.config.image if c is not None else env.get(service.image_var, "")
            out.append(ServiceStatus(service.name, r.state, r.health, url_of(service, env), image, r.detail))
        return out

    def down(self, volumes: bool = False, log: Log = lambda m: None) -> None:
        preflight.check_engine(self.docker)
        compose = self.compose(profiles=profiles_of(SERVICES))  # every profile: nothing left behind
        log(f"docker compose down{' --volumes' if volumes else ''} ({self.name})")
        try:
            compose.compose.down(remove_orphans=True, volumes=volumes, quiet=True)
        except DockerException as exc:
            raise docker_failure("docker compose down", exc) from exc

    def logs(self, service: str | None, follow: bool, tail: str | None = "200") -> Iterator[str]:
        services = [service] if service else []
        if service and service not in {s.name for s in SERVICES}:
            raise RvlocalError(f"unknown service {service!r}",
                               "Known services: " + ", ".join(s.name for s in SERVICES))
        compose = self.compose(profiles=profiles_of(SERVICES))
        try:
            for _source, chunk in compose.compose.logs(services, follow=follow, stream=True, tail=tail):
                yield chunk.decode("utf-8", "replace")
        except DockerException as exc:
            raise docker_failure("docker compose logs", exc) from exc


@contextmanager
def scratch(project: Project, options: UpOptions) -> Iterator[Stack]:
    """A stack that exists only inside the block (tests, benchmarks): brought up, then removed
    with its volumes and its env file, even when bringing it up fails."""
    stack = Stack(project, options.project_name)
    try:
        stack.up(options)
        yield stack
    finally:
        stack.down(volumes=True)
        state.env_path(project, options.project_name).unlink(missing_ok=True)
