"""What the local stack runs, read from its own files: the one input promotion renders from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from rvlocal.errors import RvlocalError
from rvlocal.project import Project

VARIABLE = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def expand(text: str, env: dict[str, str]) -> str:
    """${VAR} and ${VAR:-default} as compose expands them."""
    return VARIABLE.sub(lambda m: env.get(m.group(1), m.group(2) or ""), text)


def flags(command: list[str]) -> dict[str, str]:
    """--name=value flags of a command line ("--x" alone maps to ""; repeated flags: the last)."""
    out: dict[str, str] = {}
    for arg in command:
        if arg.startswith("--"):
            name, _, value = arg[2:].partition("=")
            out[name] = value
    return out


def image_parts(reference: str) -> dict[str, str]:
    """prom/prometheus:v3.13.0 → registry docker.io, repository prom/prometheus, tag v3.13.0."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise RvlocalError(f"image {reference!r} in compose/.env has no tag",
                           "Pin every image with :TAG in compose/.env; clusters must run what was tested.")
    first = name.split("/", 1)[0]
    registry = first if ("." in first or ":" in first) and "/" in name else "docker.io"
    repository = name[len(first) + 1:] if registry == first else name
    return {"registry": registry, "repository": repository, "tag": tag}


@dataclass
class LocalStack:
    project: Project

    def _yaml(self, relative: str) -> dict:
        path = self.project.root / relative
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise RvlocalError(f"cannot read {relative}: {exc}", "Fix it; rvlocal check says more.") from None

    @cached_property
    def versions(self) -> dict[str, str]:
        return self.project.versions()

    @cached_property
    def compose(self) -> dict:
        text = expand(self.project.compose_file.read_text(encoding="utf-8"), self.versions)
        return yaml.safe_load(text)

    def service(self, name: str) -> dict:
        return self.compose["services"][name]

    def image(self, service: str) -> dict[str, str]:
        return image_parts(self.versions[f"{service.upper()}_IMAGE"])

    def command_flags(self, service: str) -> dict[str, str]:
        return flags(self.service(service).get("command", []))

    def features(self, service: str) -> list[str]:
        return [a.split("=", 1)[1] for a in self.service(service).get("command", [])
                if a.startswith("--enable-feature=")]

    def limits(self, service: str) -> dict[str, str]:
        return ((self.service(service).get("deploy") or {}).get("resources") or {}).get("limits") or {}

    @cached_property
    def prometheus(self) -> dict:
        return self._yaml("compose/prometheus/prometheus.yml")

    def scrape_job(self, name: str) -> dict:
        for job in self.prometheus.get("scrape_configs", []):
            if job["job_name"] == name:
                return job
        raise RvlocalError(f"compose/prometheus/prometheus.yml has no scrape job {name!r}",
                           "Promotion derives the backend's ServiceMonitor from that job.")

    @cached_property
    def alertmanager(self) -> dict:
        return self._yaml("compose/alertmanager/alertmanager.yml")

    def alertmanager_templates(self) -> dict[str, str]:
        folder = self.project.compose_dir / "alertmanager" / "templates"
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.tmpl"))}

    @cached_property
    def datasources(self) -> dict:
        return self._yaml("compose/grafana/provisioning/datasources/datasources.yaml")

    @cached_property
    def dashboard_provider(self) -> dict:
        return self._yaml("compose/grafana/provisioning/dashboards/dashboards.yaml")["providers"][0]

    @cached_property
    def loki(self) -> dict:
        return self._yaml("compose/loki/loki.yaml")

    @cached_property
    def promtail(self) -> dict:
        return self._yaml("compose/promtail/promtail.yaml")

    @cached_property
    def jaeger(self) -> dict:
        return self._yaml("compose/jaeger/jaeger.yaml")

    def relative(self, path: Path) -> str:
        return path.relative_to(self.project.root).as_posix()
