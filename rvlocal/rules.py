"""Rule files: what alerts exist, their tests and runbooks, and the fast variant tests and demos
run. The variant is derived from the very files production runs, never hand-copied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rvlocal.durations import format_duration, parse_duration
from rvlocal.errors import RvlocalError
from rvlocal.project import Project

REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url", "dashboard_url")
SEVERITIES = ("critical", "warning", "info")
RANGE = re.compile(r"\[(\d+(?:ms|[smhdwy]))(\:[^\]]*)?\]")

# The fast variant: alerts fire and resolve within about a minute instead of tens of minutes.
FAST_MAX_FOR = "15s"
FAST_MAX_WINDOW = "1m"
FAST_GROUP_WAIT = "5s"
FAST_GROUP_INTERVAL = "10s"


@dataclass(frozen=True)
class Alert:
    name: str
    file: Path
    group: str
    rule: dict


def rule_files(project: Project) -> list[Path]:
    alerts = project.root / "alerts"
    return sorted(alerts.glob("*.rules.yml")) + sorted((alerts / "generated").glob("*.rules.yml"))


def load(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise RvlocalError(f"cannot read rule file {path}: {exc}", "Fix the YAML; rvlocal check says more.") from None
    if not isinstance(data.get("groups"), list):
        raise RvlocalError(f"{path} has no `groups:` list", "A Prometheus rule file starts with groups:.")
    return data


def alerts(project: Project) -> list[Alert]:
    out = []
    for path in rule_files(project):
        for group in load(path)["groups"]:
            for rule in group.get("rules", []):
                if "alert" in rule:
                    out.append(Alert(rule["alert"], path, group["name"], rule))
    return out


def convention_problems(project: Project) -> list[str]:
    """Every alert: a known severity, the four annotations, and a runbook file."""
    runbooks = project.root / "alerts" / "runbooks"
    problems = []
    for a in alerts(project):
        where = f"{a.file.relative_to(project.root)}: {a.name}"
        severity = a.rule.get("labels", {}).get("severity")
        if severity not in SEVERITIES:
            problems.append(f"{where}: severity label is {severity!r}, not one of {', '.join(SEVERITIES)}")
        missing = [k for k in REQUIRED_ANNOTATIONS if not a.rule.get("annotations", {}).get(k)]
        if missing:
            problems.append(f"{where}: missing annotations {', '.join(missing)}")
        if not (runbooks / f"{a.name}.md").exists():
            problems.append(f"{where}: no runbook alerts/runbooks/{a.name}.md")
        url = a.rule.get("annotations", {}).get("runbook_url", "")
        if url and not url.endswith(f"/runbooks/{a.name}"):
            problems.append(f"{where}: runbook_url {url} does not lead to runbooks/{a.name}")
    return sorted(set(problems))


def test_files(project: Project) -> list[Path]:
    return sorted((project.root / "alerts" / "tests").glob("*.test.yml"))


def untested(project: Project) -> list[str]:
    """Alerts without both a firing case and a silent case in alerts/tests/."""
    firing, silent = set(), set()
    for path in test_files(project):
        for test in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tests", []):
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    problems = []
    for name in sorted({a.name for a in alerts(project)}):
        lacking = [kind for kind, seen in (("a firing case", firing), ("a silent case", silent)) if name not in seen]
        if lacking:
            problems.append(f"{name} has no {' and no '.join(lacking)} in alerts/tests/")
    return problems


# --- the fast variant ---------------------------------------------------------------------

def _cap(text: str, cap: float) -> str:
    return format_duration(min(parse_duration(text), cap))


def fast_rule_file(data: dict) -> dict:
    """`for` and keep_firing_for capped at 15s, every range window at 1m."""
    max_for, max_window = parse_duration(FAST_MAX_FOR), parse_duration(FAST_MAX_WINDOW)
    for group in data["groups"]:
        for rule in group.get("rules", []):
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    rule[key] = _cap(str(rule[key]), max_for)
            rule["expr"] = RANGE.sub(lambda m: f"[{_cap(m.group(1), max_window)}{m.group(2) or ''}]", str(rule["expr"]))
    return data


def fast_alertmanager_config(config: dict) -> dict:
    """group_wait 5s and group_interval 10s on every route that sets them."""
    def walk(route: dict) -> None:
        if "group_wait" in route:
            route["group_wait"] = _cap(route["group_wait"], parse_duration(FAST_GROUP_WAIT))
        if "group_interval" in route:
            route["group_interval"] = _cap(route["group_interval"], parse_duration(FAST_GROUP_INTERVAL))
        for child in route.get("routes", []):
            walk(child)
    walk(config["route"])
    return config


def write_fast_variant(project: Project, stack_name: str) -> dict[str, str]:
    """Write the variant under .rvlocal/variants/<stack>/ and return the env that mounts it."""
    root = project.state_dir / "variants" / stack_name
    rules_dir = root / "rules"
    (rules_dir / "generated").mkdir(parents=True, exist_ok=True)
    for path in rule_files(project):
        target = rules_dir / path.relative_to(project.root / "alerts")
        header = f"# generated by rvlocal — fast variant of alerts/{path.relative_to(project.root / 'alerts')}; do not edit\n"
        target.write_text(header + yaml.safe_dump(fast_rule_file(load(path)), sort_keys=False, width=1000))
    am_source = project.compose_dir / "alertmanager" / "alertmanager.yml"
    am = fast_alertmanager_config(yaml.safe_load(am_source.read_text(encoding="utf-8")))
    am_file = root / "alertmanager.yml"
    am_file.write_text("# generated by rvlocal — fast variant of compose/alertmanager/alertmanager.yml\n"
                       + yaml.safe_dump(am, sort_keys=False, width=1000))
    for path in [root, *root.rglob("*")]:  # read by nobody inside the containers
        path.chmod(0o755 if path.is_dir() else 0o644)
    root.parent.chmod(0o755)
    return {"PROMETHEUS_RULES_DIR": str(rules_dir), "ALERTMANAGER_CONFIG_FILE": str(am_file)}
