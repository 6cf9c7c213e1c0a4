"""Docs that cannot drift: every command has help text and appears in the README."""

from __future__ import annotations

import re

from typer.main import get_command
from typer.testing import CliRunner

from rvlocal.cli import app


def commands() -> dict:
    """Every command by its full name, sub-commands included ("chaos error-rate")."""
    out = {}
    for name, command in get_command(app).commands.items():
        out[name] = command
        for sub, sub_command in getattr(command, "commands", {}).items():
            out[f"{name} {sub}"] = sub_command
    return out


def test_every_command_has_help():
    for name, command in commands().items():
        assert (command.help or "").strip(), f"rvlocal {name} has no help text"


def test_every_command_is_in_the_readme(project):
    readme = (project.root / "README.md").read_text()
    for name in commands():
        assert re.search(rf"rvlocal {name}\b", readme), f"README does not show rvlocal {name}"


def test_unknown_logs_agent_is_refused_before_anything_starts(project):
    result = CliRunner().invoke(app, ["up", "--logs-agent", "fluentd", "--root", str(project.root)])
    assert result.exit_code != 0
    assert "unknown logs agent 'fluentd'" in str(result.exception)
