"""Offline validation of the stack's configuration, with the servers' own checkers.

promtool and amtool run inside the very Prometheus and Alertmanager images the stack runs,
so the checker is the same version as the server.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal.errors import RvlocalError
from rvlocal.project import Project

# Configs of services whose binaries may be absent: parsed as YAML here, deeper checks elsewhere.
YAML_CONFIGS = (
    "compose/loki/loki.yaml",
    "compose/promtail/promtail.yaml",
    "compose/jaeger/jaeger.yaml",
    "compose/grafana/provisioning/datasources/datasources.yaml",
    "compose/grafana/provisioning/dashboards/dashboards.yaml",
)


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str = ""
    cached: bool = False


class ToolFailed(Exception):
    def __init__(self, exit_code: int, output: str) -> None:
        super().__init__(output)
        self.exit_code, self.output = exit_code, output


def run_tool(docker: DockerClient, image: str, entrypoint: str, args: list[str],
             volumes: list[tuple[Path, str]]) -> str:
    """Run a checker inside `image` with no network; returns its combined output, raises
    ToolFailed (with that output) on a non-zero exit. `docker.run` would not keep stderr."""
    container = docker.container.create(
        image, args, entrypoint=entrypoint, networks=["none"],
        volumes=[(str(src), dst, "ro") for src, dst in volumes])
    try:
        container.start()
        code = docker.container.wait(container)
        output = docker.container.logs(container)
    finally:
        container.remove(force=True)
    if code != 0:
        raise ToolFailed(code, output)
    return output


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def promtool_check_config(project: Project, docker: DockerClient, image: str) -> CheckResult:
    volumes = [(project.compose_dir / "prometheus" / "prometheus.yml", "/etc/prometheus/prometheus.yml"),
               (project.root / "alerts", "/etc/prometheus/rules")]
    try:
        out = run_tool(docker, image, "promtool",
                       ["check", "config", "/etc/prometheus/prometheus.yml"], volumes)
        return CheckResult("promtool check config", True, _last_line(out))
    except ToolFailed as exc:
        return CheckResult("promtool check config", False, exc.output.strip())


def amtool_check_config(project: Project, docker: DockerClient, image: str) -> CheckResult:
    volumes = [(project.compose_dir / "alertmanager" / "alertmanager.yml", "/etc/alertmanager/alertmanager.yml")]
    try:
        run_tool(docker, image, "amtool", ["check-config", "/etc/alertmanager/alertmanager.yml"], volumes)
        return CheckResult("amtool check-config", True)
    except ToolFailed as exc:
        return CheckResult("amtool check-config", False, exc.output.strip())


def compose_config(docker: DockerClient) -> CheckResult:
    try:
        docker.compose.config(return_json=True)
        return CheckResult("docker compose config", True)
    except DockerException as exc:
        return CheckResult("docker compose config", False, (exc.stderr or str(exc)).strip())


def yaml_configs(project: Project) -> list[CheckResult]:
    results = []
    for rel in YAML_CONFIGS:
        try:
            yaml.safe_load((project.root / rel).read_text(encoding="utf-8"))
            results.append(CheckResult(f"YAML {rel}", True))
        except (OSError, yaml.YAMLError) as exc:
            results.append(CheckResult(f"YAML {rel}", False, str(exc)))
    return results


def _fingerprint(project: Project, docker: DockerClient, images: dict[str, str]) -> str:
    digest = hashlib.sha256()
    for ref in sorted(images.values()):
        digest.update(ref.encode())
        digest.update(docker.image.inspect(ref).id.encode())
    for folder in ("compose", "alerts"):
        for f in sorted((project.root / folder).rglob("*")):
            if f.is_file() and "ca-certificates" not in f.parts:
                digest.update(str(f.relative_to(project.root)).encode())
                digest.update(f.read_bytes())
    return digest.hexdigest()


def check_all(project: Project, docker: DockerClient, prometheus_image: str | None,
              alertmanager_image: str | None, use_cache: bool = True,
              log: Callable[[str], None] = lambda m: None) -> list[CheckResult]:
    """Every check that needs no running stack. Container checks are skipped, and say so,
    when their image is unavailable. Results are cached by content and image id."""
    images = {k: v for k, v in (("prometheus", prometheus_image), ("alertmanager", alertmanager_image)) if v}
    cache_file = project.state_dir / "check-cache.json"
    key = _fingerprint(project, docker, images)
    if use_cache and cache_file.exists():
        try:
            if json.loads(cache_file.read_text()).get("ok_fingerprint") == key:
                return [CheckResult("configuration unchanged since the last passing check", True, cached=True)]
        except ValueError:
            pass
    results = [compose_config(docker), *yaml_configs(project)]
    if prometheus_image:
        log(f"promtool check config (in {prometheus_image})")
        results.append(promtool_check_config(project, docker, prometheus_image))
    else:
        results.append(CheckResult("promtool check config", True, "skipped: no Prometheus image"))
    if alertmanager_image:
        log(f"amtool check-config (in {alertmanager_image})")
        results.append(amtool_check_config(project, docker, alertmanager_image))
    else:
        results.append(CheckResult("amtool check-config", True, "skipped: no Alertmanager image"))
    if all(r.ok for r in results) and prometheus_image and alertmanager_image:
        project.state_dir.mkdir(mode=0o700, exist_ok=True)
        cache_file.write_text(json.dumps({"ok_fingerprint": key}))
    return results


def raise_on_failure(results: list[CheckResult]) -> None:
    failed = [r for r in results if not r.ok]
    if failed:
        lines = "\n".join(f"  ✗ {r.name}\n    " + r.detail.replace("\n", "\n    ") for r in failed)
        raise RvlocalError(f"configuration check failed; nothing was started:\n{lines}",
                           "Fix the file named above, then run rvlocal check.")
