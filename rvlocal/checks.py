"""Offline validation of the stack's configuration, with the servers' own checkers.

promtool and amtool run inside the very Prometheus and Alertmanager images the stack runs,
so the checker is the same version as the server.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal import dashboards, rules, slo, state
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
             volumes: list[tuple[Path, str]], workdir: str | None = None) -> str:
    """Run a checker inside `image` with no network; returns its combined output, raises
    ToolFailed (with that output) on a non-zero exit. `docker.run` would not keep stderr."""
    container = docker.container.create(
        image, args, entrypoint=entrypoint, networks=["none"], workdir=workdir,
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


def promtool_test_dir(docker: DockerClient, image: str, alerts_dir: Path) -> tuple[bool, str]:
    """promtool test rules on every alerts_dir/tests/*.test.yml: (passed, output)."""
    tests = sorted(p.name for p in (alerts_dir / "tests").glob("*.test.yml"))
    if not tests:
        return False, f"no {alerts_dir}/tests/*.test.yml"
    try:
        out = run_tool(docker, image, "promtool", ["test", "rules", *tests], [(alerts_dir, "/rules")],
                       workdir="/rules/tests")
        return True, f"{len(tests)} files: " + _last_line(out)
    except ToolFailed as exc:
        return False, exc.output


def promtool_test_rules(project: Project, docker: DockerClient, image: str) -> CheckResult:
    """The promtool unit tests of every alert (alerts/tests/), with Prometheus' own engine."""
    ok, output = promtool_test_dir(docker, image, project.root / "alerts")
    return CheckResult("promtool test rules", ok, output.strip())


def _alertmanager_volumes(project: Project) -> list[tuple[Path, str]]:
    am = project.compose_dir / "alertmanager"
    return [(am / "alertmanager.yml", "/etc/alertmanager/alertmanager.yml"),
            (am / "templates", "/etc/alertmanager/templates"),
            (state.ensure_alertmanager_secrets(project), "/etc/alertmanager/secrets")]


def amtool_check_config(project: Project, docker: DockerClient, image: str) -> CheckResult:
    try:
        run_tool(docker, image, "amtool", ["check-config", "/etc/alertmanager/alertmanager.yml"],
                 _alertmanager_volumes(project))
        return CheckResult("amtool check-config", True)
    except ToolFailed as exc:
        return CheckResult("amtool check-config", False, exc.output.strip())


def amtool_routes(project: Project, docker: DockerClient, image: str,
                  volumes: list[tuple[Path, str]] | None = None,
                  config_file: str = "/etc/alertmanager/alertmanager.yml") -> CheckResult:
    """compose/alertmanager/routes.test.yaml: each case reaches exactly its receivers. One
    container runs every case (amtool config routes test prints the receivers it resolves).
    `volumes`/`config_file` point it at another rendering of the config (promotion's)."""
    cases = yaml.safe_load((project.compose_dir / "alertmanager" / "routes.test.yaml").read_text(encoding="utf-8"))
    script = []
    for i, case in enumerate(cases):
        labels = " ".join(shlex.quote(f"{k}={v}") for k, v in case["labels"].items())
        script.append(f"echo '@@{i}'; amtool config routes test --config.file={config_file} {labels} 2>/dev/null")
    try:
        out = run_tool(docker, image, "sh", ["-c", "; ".join(script)], volumes or _alertmanager_volumes(project))
    except ToolFailed as exc:
        return CheckResult("amtool config routes test", False, exc.output.strip())
    got = {int(block.split("\n", 1)[0]): block.split("\n", 1)[1].strip().splitlines()[-1:]
           for block in out.split("@@")[1:]}
    wrong = []
    for i, case in enumerate(cases):
        resolved = got.get(i, [""])[0].split(",") if got.get(i) else []
        if resolved != case["receivers"]:
            wrong.append(f"{case['labels']} reaches {resolved or 'nothing'}, expected {case['receivers']}")
    if wrong:
        return CheckResult("amtool config routes test", False, "\n".join(wrong))
    return CheckResult("amtool config routes test", True, f"{len(cases)} routing cases")


def dashboards_static(project: Project) -> CheckResult:
    problems = dashboards.static_problems(project)
    return CheckResult("dashboards: JSON, ids, datasources, metrics, size", not problems,
                       "\n".join(str(p) for p in problems))


def promtool_dashboard_queries(project: Project, docker: DockerClient, image: str) -> CheckResult:
    """Every Prometheus query of every dashboard, variables substituted, parsed by promtool
    (as recording rules: promtool has no offline query parser of its own)."""
    targets = dashboards.prometheus_targets(project)
    folder = state.ensure_state_dir(project) / "checks"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    path = folder / "dashboard-queries.rules.yml"
    group = {"name": "dashboard-queries",
             "rules": [{"record": f"rvlocal:dashboard_query:{i}", "expr": expr} for i, (*_, expr) in enumerate(targets)]}
    path.write_text(yaml.safe_dump({"groups": [group]}, sort_keys=False, width=1000), encoding="utf-8")
    path.chmod(0o644)
    try:
        run_tool(docker, image, "promtool", ["check", "rules", "/check/dashboard-queries.rules.yml"], [(folder, "/check")])
        return CheckResult("dashboards: PromQL parses (promtool)", True, f"{len(targets)} queries")
    except ToolFailed as exc:
        problems = []
        for line in exc.output.splitlines():
            m = re.search(r"rvlocal:dashboard_query:(\d+)\"?:?\s*(.*)", line)
            if m:
                file, panel, target, _ = targets[int(m.group(1))]
                problems.append(f'{file}: panel {panel.id} "{panel.title}": target {target.ref}: {m.group(2).strip()}')
        return CheckResult("dashboards: PromQL parses (promtool)", False, "\n".join(problems) or exc.output.strip())


def alert_conventions(project: Project) -> list[CheckResult]:
    """Severity, annotations, runbooks and unit tests for every alert; SLO rules up to date."""
    results = []
    problems = rules.convention_problems(project)
    results.append(CheckResult("alerts: severity, annotations, runbooks", not problems, "\n".join(problems)))
    problems = rules.untested(project)
    results.append(CheckResult("alerts: a firing and a silent unit test each", not problems, "\n".join(problems)))
    try:
        stale_files = slo.stale(project.root / "alerts" / "slos.yaml", project.root / "alerts" / "generated")
        results.append(CheckResult("alerts/generated up to date with alerts/slos.yaml", not stale_files,
                                   "stale: " + ", ".join(stale_files) + "; run rvlocal slo generate" if stale_files else ""))
    except RvlocalError as exc:
        results.append(CheckResult("alerts/slos.yaml", False, str(exc)))
    return results


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
    for folder in ("compose", "alerts", "dashboards"):
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
    results = [compose_config(docker), *yaml_configs(project), *alert_conventions(project), dashboards_static(project)]
    if prometheus_image:
        log(f"promtool check config, test rules, dashboard queries (in {prometheus_image})")
        results.append(promtool_check_config(project, docker, prometheus_image))
        results.append(promtool_test_rules(project, docker, prometheus_image))
        results.append(promtool_dashboard_queries(project, docker, prometheus_image))
    else:
        results.append(CheckResult("promtool check config and test rules", True, "skipped: no Prometheus image"))
    if alertmanager_image:
        log(f"amtool check-config, amtool config routes test (in {alertmanager_image})")
        results.append(amtool_check_config(project, docker, alertmanager_image))
        results.append(amtool_routes(project, docker, alertmanager_image))
    else:
        results.append(CheckResult("amtool check-config and routes", True, "skipped: no Alertmanager image"))
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
