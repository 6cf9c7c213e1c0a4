"""The local stack's addresses and their cluster counterparts.

Locally, people reach services on 127.0.0.1 ports from compose/.env and services reach each
other by compose service name. Promotion swaps each base for the profile's URL; anything local
left over afterwards is a finding, not a silent link to a laptop.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rvlocal.project import Project
from rvlocal.promote.profile import Profile
from rvlocal.promote.tree import leaves, map_strings

# Hosts that only mean something on the laptop or inside the compose network.
LOCAL_HOST = re.compile(r"https?://(127\.0\.0\.1|localhost|alert-sink|backend)(:\d+)?[/\w.?=&%-]*")


@dataclass(frozen=True)
class Localizer:
    swaps: tuple[tuple[str, str], ...]

    @classmethod
    def for_profile(cls, project: Project, profile: Profile) -> "Localizer":
        ports = project.versions()
        urls, cluster = profile["urls"], profile["cluster_urls"]

        def public(port_key: str) -> str:
            return f"http://127.0.0.1:{ports[port_key]}"

        swaps = [
            # Longest first: the runbook base lives under the alert sink's address.
            (public("ALERT_SINK_PORT") + "/runbooks/", _slash(urls["runbooks"])),
            (public("GRAFANA_PORT"), urls["grafana"].rstrip("/")),
            (public("PROMETHEUS_PORT"), urls["prometheus"].rstrip("/")),
            (public("ALERTMANAGER_PORT"), urls["alertmanager"].rstrip("/")),
            (public("JAEGER_UI_PORT"), urls["jaeger"].rstrip("/")),
            ("http://prometheus:9090", cluster["prometheus"].rstrip("/")),
            ("http://loki:3100", cluster["loki"].rstrip("/")),
            ("http://jaeger:16686", cluster["jaeger"].rstrip("/")),
        ]
        return cls(tuple(swaps))

    def text(self, value: str) -> str:
        for local, remote in self.swaps:
            value = value.replace(local, remote)
        return value

    def apply(self, data):
        """`data` with every string swapped (maps and lists walked; keys kept)."""
        return map_strings(data, self.text)


def _slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def local_urls(data) -> list[str]:
    """Every laptop-only URL in `data` (strings anywhere inside)."""
    return [m.group(0) for _, value in leaves(data) if isinstance(value, str) for m in LOCAL_HOST.finditer(value)]
