"""`rvlocal history synth` and `rvlocal tune`: metric history on demand, and alert backtests."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Optional

import numpy as np
import typer
from rich.table import Table

from rvlocal import history, rules, tuning
from rvlocal.cli_common import ProjectName, Root, console, say
from rvlocal.durations import format_duration, parse_duration
from rvlocal.errors import RvlocalError
from rvlocal.project import Project
from rvlocal.stack import Stack

history_app = typer.Typer(no_args_is_help=True, help="Metric history for backtests: synthetic, with known incidents.")


@history_app.command("synth")
def synth(days: float = typer.Option(14, help="How many days, ending now (within the 30-day retention)."),
          seed: int = typer.Option(1, help="The same seed gives the same history."),
          kinds: str = typer.Option(",".join(history.KINDS), help="Incident kinds to include."),
          recording_rules: bool = typer.Option(True, help="Also backfill the recording rules over the range."),
          project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Generate history with incidents and backfill it into the stack's Prometheus (promtool)."""
    stack = Stack(Project.discover(root), project_name)
    path, incidents, lines = history.synth_into_stack(stack, days, seed, tuple(k for k in kinds.split(",") if k),
                                                      log=say, recording_rules=recording_rules)
    table = Table(title=f"{len(incidents)} incidents (ground truth in {path})", title_justify="left")
    for col in ("kind", "start", "duration", "size", "should fire"):
        table.add_column(col)
    for i in incidents:
        table.add_row(i.kind, time.strftime("%Y-%m-%d %H:%M", time.localtime(i.start)),
                      format_duration(i.end - i.start), f"{i.size:g}", ", ".join(i.expect))
    console.print(f"backfilled {lines:,} OpenMetrics lines")
    console.print(table)


@history_app.command("import")
def import_(source: str = typer.Option(..., "--from", help="URL of the Prometheus to read (e.g. production's)."),
            range_: str = typer.Option("14d", "--range", help="How far back, within the 30-day retention."),
            match: list[str] = typer.Option(..., "--match", help="Series selector; repeat for more."),
            project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Copy raw samples of the selected series from another Prometheus into the stack's."""
    from rich.progress import Progress

    stack = Stack(Project.discover(root), project_name)
    days = parse_duration(range_, "--range") / 86400
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("reading", total=None)
        lines = history.import_into_stack(stack, source, match, days, log=say,
                                          progress=lambda done, total: progress.update(task, completed=done, total=total))
    console.print(f"imported {lines:,} OpenMetrics lines into stack {project_name!r}; "
                  "Prometheus loads the blocks within a minute")


def _floats(text: str) -> np.ndarray:
    try:
        a, b, step = (float(x) for x in text.split(":"))
    except ValueError:
        raise RvlocalError(f"--thresholds {text!r} is not A:B:STEP", "e.g. --thresholds 0.01:0.1:0.005") from None
    if step <= 0 or b < a or (b - a) / step > 10_000:
        raise RvlocalError(f"--thresholds {text!r} is not a usable range", "A ≤ B, STEP > 0, at most 10,000 values.")
    return np.round(np.arange(a, b + step / 2, step), 10)


def _durations(text: str, what: str) -> list[float]:
    return [0.0 if part.strip() in ("0", "0s") else parse_duration(part, what) for part in text.split(",") if part.strip()]


def tune(alert: str = typer.Argument(..., help="Alert name, e.g. HighErrorRate."),
         severity: Optional[str] = typer.Option(None, help="Which rule, when the alert has several."),
         range_: str = typer.Option("14d", "--range", help="History to replay, ending now."),
         thresholds: Optional[str] = typer.Option(None, help="A:B:STEP (default: 0.2× to 3× the current one)."),
         for_: Optional[str] = typer.Option(None, "--for", help="Comma-separated, e.g. 0,1m,5m (with --apply: one value)."),
         keep_firing_for: str = typer.Option("0", help="Comma-separated keep_firing_for values."),
         incidents_file: Optional[Path] = typer.Option(None, "--incidents", help="Ground truth JSON (default: from history synth)."),
         top: int = typer.Option(15, help="Rows to print."),
         apply: Optional[float] = typer.Option(None, help="Write this threshold (and --for) into the rule file."),
         prometheus: Optional[str] = typer.Option(None, help="Prometheus URL (default: the stack's)."),
         project_name: str = ProjectName, root: Optional[Path] = Root) -> None:
    """Backtest an alert over history: rank thresholds × for by precision, recall and pages."""
    project = Project.discover(root)
    stack = Stack(project, project_name)
    if apply is not None:
        _apply(project, stack, alert, severity, apply, for_)
        return
    from prometheus_api_client import PrometheusConnect

    url = prometheus or f"http://127.0.0.1:{stack.env()['PROMETHEUS_PORT']}"
    found = rules.find_alert(project, alert, severity)
    sev = found.rule.get("labels", {}).get("severity", "")
    truth = history.load_incidents(incidents_file or history.history_dir(project, project_name) / "incidents.json")
    relevant = [tuning.Incident(i.start, i.end, i.kind) for i in truth if f"{alert}:{sev}" in i.expect]
    end = time.time()
    start = end - parse_duration(range_, "--range")
    say(f"replaying {alert} ({sev}) over {range_} from {url} against {len(relevant)} incidents")
    t0 = time.perf_counter()
    result = tuning.backtest_alert(project, PrometheusConnect(url=url, disable_ssl=True), alert, severity, start, end,
                                   _floats(thresholds) if thresholds else None,
                                   _durations(for_, "--for") if for_ else None,
                                   _durations(keep_firing_for, "--keep-firing-for"), relevant)
    console.print(_table(result, top))
    console.print(f"[dim]{len(result.ranked)} candidates over {result.series} series in {time.perf_counter() - t0:.2f}s[/dim]")
    console.print(_verdict(result))


def _pct(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.0%}"


def _table(r: tuning.Backtest, top: int) -> Table:
    table = Table(title=f"{r.alert} ({r.severity}): {r.op} threshold × for, best first", title_justify="left")
    for col in ("#", "threshold", "for", "keep", "pages/week", "episodes", "precision", "recall", "detect p50", "flaps", ""):
        table.add_column(col, justify="right" if col not in ("",) else "left")
    current = r.current
    rows = r.ranked[:top] + ([current] if current is not None and current not in r.ranked[:top] else [])
    for s in rows:
        mark = "← current" if s is current else ""
        table.add_row(str(r.ranked.index(s) + 1), f"{s.threshold:g}", format_duration(s.for_s) if s.for_s else "0",
                      format_duration(s.keep_firing_for_s) if s.keep_firing_for_s else "0", f"{s.pages_per_week:.1f}",
                      str(s.episodes), _pct(s.precision), _pct(s.recall),
                      "–" if math.isnan(s.ttd_median_s) else format_duration(s.ttd_median_s) if s.ttd_median_s else "0s",
                      str(s.flaps), mark)
    return table


def _verdict(r: tuning.Backtest) -> str:
    best, current = r.ranked[0], r.current
    if current is None or best is current:
        return "The current threshold and `for` rank best on this history."
    same = lambda a, b: a == b or (math.isnan(a) and math.isnan(b))  # noqa: E731
    if same(best.recall, current.recall) and same(best.precision, current.precision) and \
            best.pages_per_week >= current.pages_per_week:
        return (f"The current threshold already has the best precision ({_pct(current.precision)}) and recall "
                f"({_pct(current.recall)}) on this history; the rows above it only detect sooner "
                f"(median {format_duration(best.ttd_median_s) if best.ttd_median_s else '0s'} against "
                f"{format_duration(current.ttd_median_s) if current.ttd_median_s else '0s'}), usually by a shorter `for`.")
    return (f"Best: {r.op} {best.threshold:g} for {format_duration(best.for_s) if best.for_s else '0'}: "
            f"precision {_pct(best.precision)} (current {_pct(current.precision)}), recall {_pct(best.recall)} "
            f"(current {_pct(current.recall)}), {best.pages_per_week:.1f} pages/week (current {current.pages_per_week:.1f}). "
            f"Apply with: rvlocal tune {r.alert} --severity {r.severity} --apply {best.threshold:g}"
            + (f" --for {format_duration(best.for_s)}" if best.for_s != r.current_for_s and best.for_s else ""))


def _apply(project: Project, stack: Stack, alert: str, severity: Optional[str], value: float, for_: Optional[str]) -> None:
    from python_on_whales import DockerClient

    from rvlocal import checks, images

    if for_ is not None and "," in for_:
        raise RvlocalError("--apply takes one --for value", "e.g. --apply 0.03 --for 2m")
    found = rules.find_alert(project, alert, severity)
    docker = DockerClient()
    image = images.present("prometheus", project.versions(), docker)
    say(f"rewriting {found.file.relative_to(project.root)}: {alert} threshold → {value:g}"
        + (f", for → {for_}" if for_ else "") + "; running the promtool unit tests on the edited copy")
    rules.apply_threshold(project, found, value, for_, lambda d: checks.promtool_test_dir(docker, image, d))
    console.print(f"{found.file.relative_to(project.root)} updated; the unit tests pass. "
                  "rvlocal up reloads Prometheus with it.")
