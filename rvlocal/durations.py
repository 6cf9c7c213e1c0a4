"""Durations as Prometheus writes them: 400ms, 30s, 5m, 1h30m, 2d, 1w."""

from __future__ import annotations

import re

from rvlocal.errors import RvlocalError

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: str, what: str = "duration") -> float:
    """Seconds in `text`; a bare number means seconds."""
    text = text.strip()
    try:
        return _check(float(text), text, what)
    except ValueError:
        pass
    parts = PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise RvlocalError(f"{what} {text!r} is not a duration",
                           "Write it like 400ms, 30s, 5m, 1h30m or 2d.")
    return _check(sum(float(n) * UNITS[u] for n, u in parts), text, what)


def _check(seconds: float, text: str, what: str) -> float:
    if seconds <= 0:
        raise RvlocalError(f"{what} {text!r} must be positive", "Write it like 30s or 5m.")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    out, rest = [], int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(out) or "0s"
