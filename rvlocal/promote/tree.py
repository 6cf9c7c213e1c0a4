"""Walking parsed YAML/JSON (maps, lists, scalars): the one place that recursion lives."""

from __future__ import annotations

from typing import Callable, Iterator


def leaves(data, path: str = "") -> Iterator[tuple[str, object]]:
    """(dotted path, value) of every scalar: `spec.groups[0].rules[2].expr`."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, f"{path}[{i}]")
    else:
        yield path, data


def map_strings(data, change: Callable[[str], str]):
    """A copy of `data` with `change` applied to every string value (keys kept)."""
    if isinstance(data, str):
        return change(data)
    if isinstance(data, dict):
        return {k: map_strings(v, change) for k, v in data.items()}
    if isinstance(data, list):
        return [map_strings(v, change) for v in data]
    return data
