"""rvlocal promote: render the local sources for a cluster environment, check, write."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from python_on_whales import DockerClient
from rich.table import Table

from rvlocal import images
from rvlocal.cli_common import Root, console, say
from rvlocal.errors import RvlocalError
from rvlocal.project import Project
from rvlocal.promote import bundle as bundle_io
from rvlocal.promote import checks, diff, profile as profiles
from rvlocal.promote.render import render


def _checker_images(project: Project) -> tuple[DockerClient | None, str | None, str | None]:
    """Docker and the images holding promtool and amtool, or Nones (the checks then say so)."""
    docker = DockerClient()
    try:
        docker.info()
    except Exception:  # noqa: BLE001 — no engine: reported by the checks that need one
        return None, None, None
    found = []
    for service in ("prometheus", "alertmanager"):
        try:
            found.append(images.present(service, project.versions(), docker))
        except RvlocalError:
            found.append(None)
    return docker, found[0], found[1]


def _print_findings(findings: list[checks.Finding], names: tuple[str, ...]) -> None:
    for check in names:
        mine = [f for f in findings if f.check == check]
        mark = "[red]✗[/red]" if mine else "[green]✓[/green]"
        console.print(f"{mark} {check}")
        for f in mine:
            console.print(f"    {f}", markup=False, highlight=False, soft_wrap=True)


def _diff_table(rows: list[diff.Row], env: str) -> Table:
    table = Table(title=f"local → {env}", title_justify="left")
    for col in ("component", "setting", "local", env):
        table.add_column(col, overflow="fold")
    for r in rows:
        remote = f"[yellow]{r.remote}[/yellow]" if r.changed else f"[dim]{r.remote} (same)[/dim]"
        table.add_row(r.component, r.setting, r.local, remote)
    return table


def promote(env: str = typer.Option(..., "--env", "-e", help="Profile in profiles/ (production, staging)."),
            out: Optional[Path] = typer.Option(None, "--out", "-o", help="Folder to write (promote) or to judge (--check)."),
            check_only: bool = typer.Option(False, "--check", help="Check without writing: the folder given "
                                            "with --out as it is, or else what would be written."),
            show_diff: bool = typer.Option(False, "--diff", help="Show what differs between the local stack and "
                                           "the rendered environment; write nothing."),
            root: Optional[Path] = Root) -> None:
    """Render rules, dashboards, routing and Helm values for a cluster; check them; write them."""
    project = Project.discover(root)
    if out is not None and out.exists() and not out.is_dir():
        raise RvlocalError(f"--out {out} is a file", "Give a folder (it is created when missing).")
    profile = profiles.load(project, env)
    rendered = render(project, profile)
    if show_diff:
        rows = diff.rows(project, profile, rendered)
        console.print(_diff_table(rows, env))
        console.print(f"{sum(r.changed for r in rows)} of {len(rows)} settings change. {diff.unchanged(project)}")
        return
    if not check_only and out is None:
        raise RvlocalError("--out DIR is required to write", f"For example: rvlocal promote --env {env} --out build/k8s")
    judged = bundle_io.read(out, env) if check_only and out is not None else rendered
    docker, prometheus_image, alertmanager_image = _checker_images(project)
    findings = checks.run(judged, project, profile, docker, prometheus_image, alertmanager_image, log=say)
    if judged is not rendered:
        findings += checks.stale(judged, rendered)
    _print_findings(findings, checks.FOLDER_CHECKS if judged is not rendered else checks.CHECKS)
    if findings:
        written = "nothing was written" if not check_only else f"{out} would break in the cluster"
        raise RvlocalError(f"{len(findings)} pre-promotion check(s) failed; {written}.",
                           "Fix each source named above, then run the command again.")
    for note in checks.advisories(judged, profile):
        console.print(f"[yellow]note:[/yellow] {note}")
    if check_only:
        console.print(f"the files in {out} pass every check" if judged is not rendered
                      else "the rendering passes every check (nothing written)")
        return
    paths = rendered.write(out)
    console.print(f"wrote {len(paths)} files to {out} for {env}; apply with: "
                  f"kubectl kustomize --enable-helm {out} | kubectl apply -f -", soft_wrap=True)
