"""YAML as rvlocal writes it: keys in the order built, multi-line strings as blocks."""

from __future__ import annotations

import yaml


class Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


Dumper.add_representer(str, _str)


def dump(data) -> str:
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, width=1000, allow_unicode=True)


def dump_all(documents: list) -> str:
    return yaml.dump_all(documents, Dumper=Dumper, sort_keys=False, width=1000, allow_unicode=True)
