"""`rvlocal load` and `rvlocal chaos …`: traffic and trouble for the local backend."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from rvlocal import chaos, load as loadgen
from rvlocal.cli_common import ProjectName, Root, console, say
from rvlocal.durations import parse_duration
from rvlocal.errors import RvlocalError
from rvlocal.project import Project
from rvlocal.stack import Stack

chaos_app = typer.Typer(no_args_is_help=True, help=(
    "Make the local backend misbehave, or stop/start a service, so alerts can be seen to fire. "
    "Faults given --for revert by themselves."))

For = typer.Option(None, "--for", help="Revert after this long (30s, 5m, 1h); default: until cleared.")


def _stack(project_name: str, root: Optional[Path]) -> Stack:
    return Stack(Project.discover(root), project_name)


def _set(project_name: str, root: Optional[Path], name: str, value, for_: Optional[str]) -> None:
    seconds = parse_duration(for_, "--for") if for_ else None
    client = chaos.FaultClient.for_stack(_stack(project_name, root))
    say(f"PUT {client.url}/admin/faults {name}={value}" + (f" for {for_}" if for_ else ""))
    snapshot = client.set(name, value, seconds)
    for line in chaos.describe(snapshot, (name,)):
        console.print(line)


def _rate(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise RvlocalError(f"{what} {text!r} is not a number", "Give a share from 0 to 1, e.g. 0.3.") from None
    if not 0 <= value <= 1:
        raise RvlocalError(f"{what} {value:g} is outside 0..1", "Give a share from 0 to 1, e.g. 0.3.")
    return value


@chaos_app.command("error-rate")
def error_rate(rate: str = typer.Argument(..., help="Share of API requests that fail with 500, 0..1."),
               for_: Optional[str] = For, project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Fail this share of API requests with a 500 (through the real error path)."""
    _set(project_name, root, "error_rate", _rate(rate, "error rate"), for_)


@chaos_app.command()
def latency(extra: str = typer.Argument(..., help="Added to every API request, e.g. 400ms."),
            for_: Optional[str] = For, project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Add latency to every API request."""
    _set(project_name, root, "extra_latency_ms", round(parse_duration(extra, "latency") * 1000, 3), for_)


@chaos_app.command("ocr-failures")
def ocr_failures(rate: str = typer.Argument(..., help="Share of receipts whose OCR fails, 0..1."),
                 for_: Optional[str] = For, project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Make this share of OCR steps fail (receipts end as failed)."""
    _set(project_name, root, "ocr_failure_rate", _rate(rate, "OCR failure rate"), for_)


@chaos_app.command("ocr-slowdown")
def ocr_slowdown(factor: float = typer.Argument(..., help="Multiplier on OCR latency, e.g. 4."),
                 for_: Optional[str] = For, project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Multiply the simulated OCR latency."""
    _set(project_name, root, "ocr_latency_multiplier", factor, for_)


@chaos_app.command()
def readiness(state: str = typer.Argument(..., help="down or up."),
              for_: Optional[str] = For, project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Make /health/readiness answer 503 (down) or 200 again (up)."""
    if state not in ("down", "up"):
        raise RvlocalError(f"readiness {state!r}: say down or up", "e.g. rvlocal chaos readiness down --for 2m")
    _set(project_name, root, "readiness_down", state == "down", for_)


@chaos_app.command()
def clear(project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Remove every injected fault now."""
    client = chaos.FaultClient.for_stack(_stack(project_name, root))
    say(f"DELETE {client.url}/admin/faults")
    for line in chaos.describe(client.clear()):
        console.print(line)


@chaos_app.command()
def show(project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Print the faults in force and when each reverts."""
    for line in chaos.describe(chaos.FaultClient.for_stack(_stack(project_name, root)).get()):
        console.print(line)


@chaos_app.command()
def stop(service: str = typer.Argument(..., help="A service of the stack, e.g. backend."),
         project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Stop one service's container (rvlocal chaos start brings it back)."""
    stack = _stack(project_name, root)
    say(f"docker compose stop {service} ({stack.name})")
    chaos.stop_service(stack, service)
    console.print(f"{service} stopped; rvlocal chaos start {service} brings it back")


@chaos_app.command()
def start(service: str = typer.Argument(..., help="A service stopped with rvlocal chaos stop."),
          project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Start a service's container again."""
    stack = _stack(project_name, root)
    say(f"docker compose start {service} ({stack.name})")
    chaos.start_service(stack, service)
    console.print(f"{service} started")


def load(rps: float = typer.Option(..., help="Requests per second offered (open loop)."),
         duration: str = typer.Option(..., help="How long, e.g. 30s or 2m."),
         mix: str = typer.Option(loadgen.DEFAULT_MIX, help="Shares of uploads, reads and lists."),
         target: Optional[str] = typer.Option(None, help="Backend URL on this machine (default: the stack's)."),
         max_requests: int = typer.Option(100_000, help="Refuse plans that would send more."),
         seed: Optional[int] = typer.Option(None, help="Make the traffic reproducible."),
         project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Send a fixed-rate request mix to the local backend; print achieved rps, latency, errors."""
    url = target or f"http://127.0.0.1:{_stack(project_name, root).env()['BACKEND_PORT']}"
    plan = loadgen.LoadPlan(url, rps, parse_duration(duration, "--duration"), loadgen.Mix.parse(mix),
                            max_requests, seed).validate()
    try:
        httpx.get(f"{url}/health/liveness", timeout=5).raise_for_status()
    except httpx.HTTPError as exc:
        raise RvlocalError(f"the backend at {url} is not answering: {exc}", "Run rvlocal up first.") from None
    say(f"{plan.total} requests at {rps:g}/s to {url} ({mix})")
    with Progress(TextColumn("load"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}"),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task("", total=plan.total)
        result = loadgen.run_sync(plan, lambda r: progress.update(
            task, completed=r.completed + r.transport_errors + r.skipped_in_flight_cap,
            description=f"errors {r.errors}"))
    console.print(_load_table(plan, result))


def _load_table(plan: loadgen.LoadPlan, r: loadgen.LoadResult) -> Table:
    table = Table(title="load result", title_justify="left", show_header=False)
    ms = lambda q: f"{r.percentile(q) * 1000:.1f} ms"  # noqa: E731
    by_class = {f"{c}xx": sum(n for s, n in r.statuses.items() if s // 100 == c) for c in (2, 3, 4, 5)}
    rows = [
        ("offered", f"{plan.rps:g} rps × {plan.duration_s:g}s = {plan.total} requests"),
        ("achieved", f"{r.achieved_rps:.1f} rps ({r.completed} answered in {r.elapsed_s:.1f}s)"),
        ("latency p50 / p95 / p99", f"{ms(50)} / {ms(95)} / {ms(99)}"),
        ("answers", ", ".join(f"{k} {v}" for k, v in by_class.items() if v) or "none"),
        ("errors (5xx + no answer)", f"{r.errors} ({r.server_errors} 5xx, {r.transport_errors} no answer)"),
        ("by kind", ", ".join(f"{k} {v}" for k, v in sorted(r.by_kind.items()))),
        ("most in flight", str(r.max_in_flight)),
    ]
    if r.skipped_in_flight_cap:
        rows.append(("skipped", f"{r.skipped_in_flight_cap} (over {loadgen.MAX_IN_FLIGHT} in flight)"))
    for row in rows:
        table.add_row(*row)
    return table
