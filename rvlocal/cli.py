"""Thin commands: parse, call the core, print. Errors are printed once, in main()."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from python_on_whales import DockerClient
from rich.live import Live
from rich.table import Table

from rvlocal import checks, images, preflight, slo
from rvlocal.cli_common import ProjectName, Root, console, err, say
from rvlocal.cli_promote import promote
from rvlocal.cli_traffic import chaos_app, load
from rvlocal.cli_tuning import history_app, tune
from rvlocal.errors import RvlocalError
from rvlocal.health import Readiness
from rvlocal.project import Project
from rvlocal.services import SERVICES, active_services
from rvlocal.stack import Stack, UpOptions

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="rvlocal: Receipt Vault Pro's observability stack on your machine.")


def _readiness_table(states: list[Readiness]) -> Table:
    table = Table(title="waiting for readiness", title_justify="left")
    for col in ("service", "state", "health"):
        table.add_column(col)
    for r in states:
        colour = "green" if r.ready else ("red" if r.failed else "yellow")
        table.add_row(r.service, r.state, f"[{colour}]{r.health}[/{colour}]")
    return table


def _status_table(statuses, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("service", "state", "health", "url", "image"):
        table.add_column(col, overflow="fold")
    for s in statuses:
        colour = "green" if s.ready else ("yellow" if s.state == "running" else "red")
        table.add_row(s.service, s.state, f"[{colour}]{s.health}[/{colour}]", s.url, s.image)
    return table


@app.command()
def up(project_name: str = ProjectName,
       strict: bool = typer.Option(False, help="Fail when any service has no image."),
       timeout: float = typer.Option(180.0, help="Seconds to wait for every service to be ready."),
       port_offset: int = typer.Option(0, help="Add this to every published port."),
       logs_agent: str = typer.Option("promtail", help="promtail (production today) or alloy."),
       fast_alerts: bool = typer.Option(False, help="Run a variant of the rules and routing derived from "
                                        "the same files with short for/windows/group timings: alerts "
                                        "fire and resolve within about a minute (demos, tests)."),
       root: Optional[Path] = Root) -> None:
    """Bring the stack up: preflight, images, compose up, wait until ready, print URLs."""
    stack = Stack(Project.discover(root), project_name)
    options = UpOptions(project_name, strict, timeout, port_offset, logs_agent, fast_alerts)
    with Live(console=err, transient=True, refresh_per_second=8) as live:
        result = stack.up(options, log=lambda m: live.console.print(f"[dim]→ {m}[/dim]"),
                          on_readiness=lambda states: live.update(_readiness_table(states)))
    running = [s for s in result.statuses if s.service not in result.unavailable]
    console.print(_status_table(running, f"rvlocal stack '{project_name}' is up"))
    if result.unavailable:
        console.print("[bold yellow]Not started (no image):[/bold yellow]")
        for name, why in result.unavailable.items():
            console.print(f"  [yellow]{name}[/yellow]: {why}")
    if "grafana" not in result.unavailable:
        console.print(f"Grafana login: admin / password in {result.grafana_password_file}")


@app.command()
def down(project_name: str = ProjectName,
         volumes: bool = typer.Option(False, "--volumes", "-v", help="Also delete the data volumes."),
         root: Optional[Path] = Root) -> None:
    """Stop and remove the stack's containers and network (and volumes with --volumes)."""
    Stack(Project.discover(root), project_name).down(volumes, log=say)
    console.print(f"stack '{project_name}' is down" + (" and its volumes deleted" if volumes else ""))


@app.command()
def status(project_name: str = ProjectName,
           as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
           root: Optional[Path] = Root) -> None:
    """Service, state, health, URL and image of every service of the stack."""
    stack = Stack(Project.discover(root), project_name)
    preflight.check_engine(stack.docker)
    statuses = stack.status()
    if as_json:
        print(json.dumps([{"service": s.service, "state": s.state, "health": s.health,
                           "url": s.url, "image": s.image} for s in statuses], indent=2))
    else:
        console.print(_status_table(statuses, f"rvlocal stack '{project_name}'"))


@app.command()
def logs(service: Optional[str] = typer.Argument(None, help="One service; all when omitted."),
         follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
         project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Print the logs of one service or of all."""
    for chunk in Stack(Project.discover(root), project_name).logs(service, follow):
        sys.stdout.write(chunk)
        sys.stdout.flush()


@app.command("images")
def images_cmd(root: Optional[Path] = Root) -> None:
    """Per service: image present, pullable, buildable offline, or unavailable (changes nothing)."""
    project = Project.discover(root)
    docker = DockerClient()
    preflight.check_engine(docker)
    plan = images.plan_with_docker(list(SERVICES), project.versions(), docker)
    table = Table(title="images", title_justify="left")
    for col in ("service", "image", "availability", "detail"):
        table.add_column(col, overflow="fold")
    rows = list(plan.choices.values()) + ([plan.python_base] if plan.python_base else [])
    for c in rows:
        colour = "red" if not c.usable else "green"
        table.add_row(c.service, c.image, f"[{colour}]{c.availability.value}[/{colour}]", c.detail)
    console.print(table)


def _print_results(results: list[checks.CheckResult]) -> None:
    for r in results:
        mark = "[green]✓[/green]" if r.ok else "[red]✗[/red]"
        console.print(f"{mark} {r.name}" + (f" [dim]{r.detail}[/dim]" if r.detail else ""))


@app.command()
def check(project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Validate the configuration offline (compose, promtool, amtool) without starting anything."""
    stack = Stack(Project.discover(root), project_name)
    preflight.check_engine(stack.docker)
    env = stack.env()
    plan = images.plan_with_docker(active_services(), env, stack.docker, ask_registry=False)
    usable = {n: c.image for n, c in plan.choices.items() if c.availability is images.Availability.PRESENT}
    results = checks.check_all(stack.project, stack.compose(), usable.get("prometheus"),
                               usable.get("alertmanager"), use_cache=False, log=say)
    _print_results(results)
    checks.raise_on_failure(results)


slo_app = typer.Typer(no_args_is_help=True, help="SLOs: alerts/slos.yaml (a Sloth spec) to rules.")


@slo_app.command("generate")
def slo_generate(check_only: bool = typer.Option(False, "--check", help="Only say whether the files are stale."),
                 root: Optional[Path] = Root) -> None:
    """Write alerts/generated/*.rules.yml from alerts/slos.yaml: SLI recordings, budget, burn-rate alerts."""
    project = Project.discover(root)
    spec, out = project.root / "alerts" / "slos.yaml", project.root / "alerts" / "generated"
    if check_only:
        stale_files = slo.stale(spec, out)
        if stale_files:
            raise RvlocalError(f"stale generated rules: {', '.join(stale_files)}", "Run rvlocal slo generate.")
        console.print("alerts/generated is up to date with alerts/slos.yaml")
        return
    for path in slo.generate(spec, out):
        console.print(f"wrote {path.relative_to(project.root)}")


dashboards_app = typer.Typer(no_args_is_help=True, help="Dashboards: check them, and preview them without Grafana.")


@dashboards_app.command("check")
def dashboards_check(root: Optional[Path] = Root) -> None:
    """Check dashboards/*.json: JSON, ids, datasource uids, metrics, size, and PromQL (promtool)."""
    project = Project.discover(root)
    docker = DockerClient()
    results = [checks.dashboards_static(project)]
    try:
        results.append(checks.promtool_dashboard_queries(project, docker,
                                                         images.present("prometheus", project.versions(), docker)))
    except RvlocalError:
        console.print("[yellow]no Prometheus image: PromQL not parsed (rvlocal up builds one)[/yellow]")
    _print_results(results)
    checks.raise_on_failure(results)


@dashboards_app.command("preview")
def dashboards_preview(dashboard: Optional[str] = typer.Argument(None, help="executive, operational, debug or slo; all when omitted."),
                       range_: str = typer.Option("1h", "--range", help="How far back from now, e.g. 30m, 6h."),
                       out: Path = typer.Option(Path(".rvlocal/previews"), help="Folder for the PNG files."),
                       prometheus: Optional[str] = typer.Option(None, help="Prometheus URL (default: the stack's)."),
                       project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Draw each Prometheus panel's queries over a range into a PNG, where Grafana cannot run."""
    from datetime import datetime, timedelta

    from prometheus_api_client import PrometheusConnect

    from rvlocal import dashboards, preview
    from rvlocal.durations import parse_duration

    project = Project.discover(root)
    paths = dashboards.files(project)
    if dashboard:
        paths = [p for p in paths if p.stem == dashboard]
        if not paths:
            raise RvlocalError(f"no dashboard {dashboard!r}",
                               "Known: " + ", ".join(p.stem for p in dashboards.files(project)))
    url = prometheus or f"http://127.0.0.1:{Stack(project, project_name).env()['PROMETHEUS_PORT']}"
    prom = PrometheusConnect(url=url, disable_ssl=True)
    try:
        answers = prom.check_prometheus_connection()
    except Exception:  # noqa: BLE001 — requests' connection errors, whatever their class
        answers = False
    if not answers:
        raise RvlocalError(f"Prometheus at {url} does not answer", "Run rvlocal up, or pass --prometheus URL.")
    seconds = parse_duration(range_, "--range")
    end = datetime.now()
    start = end - timedelta(seconds=seconds)
    step = f"{max(15, int(seconds // 240))}s"
    for path in paths:
        say(f"querying {url} for {path.name} ({range_}, step {step})")
        png, empty = preview.render(path, prom, start, end, out / f"{path.stem}.png", step)
        console.print(f"wrote {png}" + (f" [yellow]({empty} panels without data)[/yellow]" if empty else ""))


app.command()(load)
app.add_typer(chaos_app, name="chaos")
app.add_typer(history_app, name="history")
app.command()(tune)
app.add_typer(slo_app, name="slo")
app.add_typer(dashboards_app, name="dashboards")
app.command()(promote)


def main() -> None:
    try:
        app()
    except RvlocalError as exc:
        err.print(f"[bold red]Error:[/bold red] {exc.message}")
        if exc.hint:
            err.print(exc.hint)
        sys.exit(1)


if __name__ == "__main__":
    main()
