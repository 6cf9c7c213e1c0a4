"""Dashboards as data: load dashboards/*.json, and check what Grafana would only show broken.

Static checks need no Grafana: valid JSON, unique dashboard uids and panel ids, datasource uids
that provisioning defines, metrics that exist (exposed by the backend, recorded by a rule, or
made by Prometheus itself), and a size a Kubernetes ConfigMap can carry. PromQL is parsed by the
Prometheus image's promtool (checks.py), after template variables are substituted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rvlocal import rules
from rvlocal.project import Project

CONFIGMAP_LIMIT = 262_144  # kubectl apply's last-applied annotation limit, bytes
# Grafana's built-in variables and ours, with values that make a query valid and meaningful.
VARIABLES = {
    "__rate_interval": "1m", "__interval": "15s", "__range": "1h", "__range_s": "3600",
    "service": "receipt-vault-backend", "environment": ".*", "slo": ".+", "level": ".+",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
# Series Prometheus itself makes, which no exporter exposes.
PROMETHEUS_MADE = {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped",
                   "scrape_samples_post_metric_relabeling", "scrape_series_added"}
# Series the stack's own components expose, which meta-monitoring alerts read. Named one by one
# (not by prefix) so a misspelt name is still caught. The Prometheus and Alertmanager ones are
# checked on the live stack; the others only appear once something is dropped.
COMPONENT_METRICS = {
    "alertmanager_notifications_failed_total": "Alertmanager",
    "prometheus_rule_evaluation_failures_total": "Prometheus",
    "loki_discarded_samples_total": "Loki",
    "loki_write_dropped_entries_total": "Loki (client of Alloy and Promtail)",
    "promtail_dropped_entries_total": "Promtail",
    "otelcol_receiver_refused_spans_total": "Jaeger (OpenTelemetry collector)",
    "otelcol_exporter_send_failed_spans_total": "Jaeger (OpenTelemetry collector)",
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
                "unless", "atan2", "inf", "nan", "Inf", "NaN", "start", "end", "le"}
BUILTIN_UIDS = {"grafana", "-- Grafana --", "-- Dashboard --", "-- Mixed --"}


@dataclass
class Target:
    ref: str
    datasource: str
    expr: str


@dataclass
class Panel:
    id: int | None
    title: str
    type: str
    datasource: str | None
    targets: list[Target] = field(default_factory=list)

    @property
    def is_prometheus(self) -> bool:
        return any(t.datasource == "prometheus" for t in self.targets)


@dataclass
class Dashboard:
    path: Path
    uid: str
    title: str
    panels: list[Panel]
    raw: dict
    size: int


@dataclass(frozen=True)
class Problem:
    file: str
    panel: str
    problem: str

    def __str__(self) -> str:
        return f"{self.file}: {self.panel}: {self.problem}" if self.panel else f"{self.file}: {self.problem}"


def _uid(ds) -> str | None:
    if isinstance(ds, dict):
        return ds.get("uid")
    return ds  # legacy: a name or uid string


def _panels(items: list[dict]) -> list[dict]:
    out = []
    for p in items:
        out.append(p)
        out.extend(_panels(p.get("panels", [])))  # rows keep collapsed children here
    return out


def load(path: Path) -> Dashboard:
    return parse(path.read_bytes(), path)


def parse(text: bytes | str, path: Path) -> Dashboard:
    """A dashboard from its JSON text (a file, or a ConfigMap's data)."""
    raw = json.loads(text)
    panels = []
    for p in _panels(raw.get("panels", [])):
        panel_ds = _uid(p.get("datasource"))
        targets = [Target(t.get("refId", "?"), _uid(t.get("datasource")) or panel_ds or "", t.get("expr", ""))
                   for t in p.get("targets", [])]
        panels.append(Panel(p.get("id"), p.get("title", ""), p.get("type", ""), panel_ds, targets))
    size = len(text.encode("utf-8")) if isinstance(text, str) else len(text)
    return Dashboard(path, raw.get("uid", ""), raw.get("title", ""), panels, raw, size)


def files(project: Project) -> list[Path]:
    return sorted((project.root / "dashboards").glob("*.json"))


def provisioned_uids(project: Project) -> set[str]:
    path = project.compose_dir / "grafana" / "provisioning" / "datasources" / "datasources.yaml"
    return {d["uid"] for d in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]}


def substitute(expr: str) -> str:
    def value(m: re.Match) -> str:
        name = m.group(1) or m.group(2) or m.group(3)
        return VARIABLES.get(name, m.group(0))
    return VARIABLE.sub(value, expr)


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (a small tokenizer, enough for dashboards)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    names = set()
    for m in re.finditer(r"(?<![\w.])[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = m.group(0)
        following = text[m.end():].lstrip()
        if following.startswith("(") or word in PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d+(ms|[smhdwy])", word):
            continue
        names.add(word)
    return names


def backend_metric_names() -> set[str]:
    """Every series name the backend exposes (counters' _total, histograms' _bucket/_sum/_count)."""
    from rvlocal.backend.metrics import Metrics
    names = set()
    for family in Metrics().registry.collect():
        names.add(family.name)
        kind = family.type
        if kind == "counter":
            names.add(family.name + "_total")
        elif kind == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
        for sample in family.samples:
            names.add(sample.name)
    return names


def recorded_names(project: Project) -> set[str]:
    return {r["record"] for path in rules.rule_files(project) for g in rules.load(path)["groups"]
            for r in g.get("rules", []) if "record" in r}


def known_metrics(project: Project) -> set[str]:
    return backend_metric_names() | recorded_names(project) | PROMETHEUS_MADE | set(COMPONENT_METRICS)


LABEL_VALUES = re.compile(r"label_values\(\s*([^,)]+),")


def variable_selectors(raw: dict) -> list[tuple[str, str]]:
    """(variable name, series selector) of each label_values() template variable."""
    out = []
    for variable in (raw.get("templating") or {}).get("list", []):
        query = variable.get("query")
        query = query.get("query", "") if isinstance(query, dict) else str(query or "")
        out += [(variable.get("name", "?"), m.group(1)) for m in LABEL_VALUES.finditer(query)]
    return out


def static_problems(project: Project, paths: list[Path] | None = None) -> list[Problem]:
    uids = provisioned_uids(project) | BUILTIN_UIDS
    metrics = known_metrics(project)
    problems: list[Problem] = []
    seen_uids: dict[str, str] = {}
    for path in paths or files(project):
        name = path.name
        try:
            d = load(path)
        except (OSError, ValueError) as exc:
            problems.append(Problem(name, "", f"not valid JSON: {exc}"))
            continue
        if not d.uid:
            problems.append(Problem(name, "", "no dashboard uid (links and alerts refer to it)"))
        elif d.uid in seen_uids:
            problems.append(Problem(name, "", f"uid {d.uid!r} is also used by {seen_uids[d.uid]}"))
        seen_uids.setdefault(d.uid, name)
        if d.size >= CONFIGMAP_LIMIT:
            problems.append(Problem(name, "", f"{d.size} bytes: over the {CONFIGMAP_LIMIT}-byte limit of a "
                                               "Kubernetes ConfigMap applied with kubectl"))
        ids = [p.id for p in d.panels]
        for dup in sorted({i for i in ids if ids.count(i) > 1 and i is not None}):
            problems.append(Problem(name, f"panel {dup}", "panel id used more than once"))
        for var in d.raw.get("templating", {}).get("list", []):
            ds = _uid(var.get("datasource"))
            if ds and ds not in uids and not ds.startswith("$"):
                problems.append(Problem(name, f"variable {var.get('name')}", f"datasource uid {ds!r} is not provisioned"))
        for var, selector in variable_selectors(d.raw):
            for metric in sorted(metric_names(selector) - metrics):
                problems.append(Problem(name, f"variable {var}", f"label_values() reads {metric}, which neither the "
                                                                 "backend exposes nor a recording rule produces"))
        for p in d.panels:
            where = f'panel {p.id} "{p.title}"'
            if p.id is None:
                problems.append(Problem(name, where, "panel has no id"))
            for uid in {p.datasource, *(t.datasource for t in p.targets)} - {None, ""}:
                if uid not in uids:
                    problems.append(Problem(name, where, f"datasource uid {uid!r} is not provisioned "
                                                         f"(known: {', '.join(sorted(provisioned_uids(project)))})"))
            for t in p.targets:
                if t.datasource != "prometheus":
                    continue
                if not t.expr.strip():
                    problems.append(Problem(name, where, f"target {t.ref} has no expression"))
                    continue
                for metric in sorted(metric_names(substitute(t.expr)) - metrics):
                    problems.append(Problem(name, where, f"target {t.ref} uses {metric}, which neither the backend "
                                                         "exposes nor a recording rule produces"))
    return problems


def prometheus_targets(project: Project, paths: list[Path] | None = None) -> list[tuple[str, Panel, Target, str]]:
    """(file, panel, target, expression with variables substituted) for every Prometheus query."""
    out = []
    for path in paths or files(project):
        d = load(path)
        for p in d.panels:
            for t in p.targets:
                if t.datasource == "prometheus" and t.expr.strip():
                    out.append((path.name, p, t, substitute(t.expr)))
    return out
