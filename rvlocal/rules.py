"""Rule files: what alerts exist, their tests and runbooks, and the fast variant tests and demos
run. The variant is derived from the very files production runs, never hand-copied."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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


# --- thresholds, for tuning -----------------------------------------------------------------

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
COMPARISON = re.compile(rf"(>=|<=|==|!=|>|<)\s*(?:bool\s+)?({NUMBER})(?![\w.])")


@dataclass(frozen=True)
class Threshold:
    lhs: str     # the expression compared
    op: str
    value: float
    rest: str    # what follows the comparison (e.g. "and on (service) <low-traffic guard>")
    span: tuple[int, int]  # where the number is in the expression text

    def query(self) -> str:
        """The expression whose values the threshold is compared with, guards kept: samples
        where a guard fails are absent, so they never satisfy the condition."""
        rest = self.rest.strip()
        if not rest:
            return self.lhs.strip()
        if not rest.startswith("and"):
            raise RvlocalError(f"the comparison is followed by `{rest.split()[0]}`: only `and` guards can be "
                               "replayed with one threshold", "Tune the alerts of the form `EXPR > N [and GUARD]`.")
        return f"({self.lhs.strip()})\n{rest}"


def split_threshold(expr: str) -> Threshold:
    """The first comparison with a number at the top level of the expression."""
    depth, i, quote = 0, 0, ""
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = ""
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "<>=!":
            m = COMPARISON.match(expr, i)
            if m:
                return Threshold(expr[:i], m.group(1), float(m.group(2)), expr[m.end():], (m.start(2), m.end(2)))
        i += 1
    raise RvlocalError("no comparison with a number at the top level of the expression",
                       "Tuning needs an alert of the form `EXPR > NUMBER [and ...]`.")


def find_alert(project: Project, name: str, severity: str | None = None) -> Alert:
    found = [a for a in alerts(project) if a.name == name and (severity is None or a.rule.get("labels", {}).get("severity") == severity)]
    if not found:
        known = sorted({a.name for a in alerts(project)})
        raise RvlocalError(f"no alert {name!r}" + (f" with severity {severity}" if severity else ""),
                           "Known alerts: " + ", ".join(known))
    if len(found) > 1:
        levels = ", ".join(a.rule.get("labels", {}).get("severity", "?") for a in found)
        raise RvlocalError(f"{name} has {len(found)} rules ({levels})", "Choose one with --severity.")
    return found[0]


def evaluation_interval(project: Project, alert: Alert) -> float:
    """The rule group's interval, else Prometheus' global evaluation_interval."""
    group = next(g for g in load(alert.file)["groups"] if g["name"] == alert.group)
    if group.get("interval"):
        return parse_duration(str(group["interval"]))
    config = yaml.safe_load((project.compose_dir / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    return parse_duration(str(config.get("global", {}).get("evaluation_interval", "1m")))


def apply_threshold(project: Project, alert: Alert, value: float, for_: str | None,
                    run_tests: Callable[[Path], tuple[bool, str]]) -> str:
    """Rewrite the alert's threshold (and `for`) in its rule file, leaving every other byte as
    it was. The edited copy must pass the promtool unit tests (`run_tests(alerts_dir_copy)`)
    before it replaces the file; otherwise the file is untouched and the reason raised."""
    import shutil
    import tempfile

    from ruamel.yaml import YAML

    text = alert.file.read_text(encoding="utf-8")
    doc = YAML().load(text)
    severity = alert.rule.get("labels", {}).get("severity")
    rule = next(r for g in doc["groups"] if g["name"] == alert.group for r in g["rules"]
                if r.get("alert") == alert.name and r.get("labels", {}).get("severity") == severity)
    lines = text.splitlines(keepends=True)
    key_lines = sorted(rule.lc.key(k)[0] for k in rule.keys())
    expr_line = rule.lc.key("expr")[0]
    end_line = next((n for n in key_lines if n > expr_line), len(lines))
    threshold = split_threshold(str(rule["expr"]))
    for n in range(expr_line, end_line):
        match = next((m for m in COMPARISON.finditer(lines[n])
                      if m.group(1) == threshold.op and float(m.group(2)) == threshold.value), None)
        if match:
            lines[n] = lines[n][:match.start(2)] + f"{value:g}" + lines[n][match.end(2):]
            break
    else:
        raise RvlocalError(f"cannot find `{threshold.op} {threshold.value:g}` in {alert.file.name}",
                           "Edit the threshold by hand.")
    if for_ is not None:
        if "for" not in rule:
            raise RvlocalError(f"{alert.name} has no `for:` line to change", "Add one by hand, then tune again.")
        parse_duration(for_, "--for")
        n = rule.lc.key("for")[0]
        lines[n] = re.sub(r"(for:\s*)\S+", rf"\g<1>{for_}", lines[n], count=1)
    new_text = "".join(lines)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "alerts"
        shutil.copytree(project.root / "alerts", copy)
        (copy / alert.file.relative_to(project.root / "alerts")).write_text(new_text, encoding="utf-8")
        for path in [copy, *copy.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        Path(tmp).chmod(0o755)
        ok, output = run_tests(copy)
    if not ok:
        raise RvlocalError(f"the change breaks promtool unit tests; {alert.file.name} is unchanged:\n{output.strip()[-3000:]}",
                           "Update the alert's tests in alerts/tests/ for the new threshold, then apply again.")
    alert.file.write_text(new_text, encoding="utf-8")
    return new_text
