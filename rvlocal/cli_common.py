"""What every command module shares: consoles and the common options."""

from __future__ import annotations

import typer
from rich.console import Console

from rvlocal.project import DEFAULT_PROJECT_NAME

console = Console()
err = Console(stderr=True)

ProjectName = typer.Option(DEFAULT_PROJECT_NAME, "--project-name", "-p",
                           help="Compose project name; several stacks can run side by side.")
Root = typer.Option(None, "--root", help="Repository root (default: found from the current directory).")


def say(message: str) -> None:
    """Echo what is about to happen (docker commands, API calls) on stderr."""
    err.print(f"[dim]→ {message}[/dim]")
