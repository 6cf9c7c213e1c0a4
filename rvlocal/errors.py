"""The one user-facing error type, caught once at the CLI boundary."""

from __future__ import annotations


class RvlocalError(Exception):
    """What failed, and what to do next."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n{self.hint}" if self.hint else self.message


def docker_failure(action: str, exc: Exception, hint: str = "") -> RvlocalError:
    """Wrap a python-on-whales DockerException keeping the command and the tail of stderr."""
    command = " ".join(getattr(exc, "docker_command", []) or [])
    stderr = (getattr(exc, "stderr", "") or str(exc)).strip().splitlines()
    tail = "\n  ".join(stderr[-8:])
    msg = f"{action} failed"
    if command:
        msg += f"\n  command: {command}"
    if tail:
        msg += f"\n  {tail}"
    return RvlocalError(msg, hint)
