"""Synthetic history (incidents, OpenMetrics), thresholds found in rule files, and --apply
changing exactly the threshold's line."""

from __future__ import annotations

import re
import shutil

import pytest

from rvlocal import history, rules
from rvlocal.errors import RvlocalError
from rvlocal.project import Project

END = 1_796_400_000.0


def test_incidents_are_seeded_of_every_kind_and_inside_the_range():
    a = history.plan_incidents(14, 5, END)
    assert a == history.plan_incidents(14, 5, END) and a != history.plan_incidents(14, 6, END)
    assert {i.kind for i in a} == set(history.KINDS)
    assert all(END - 14 * 86400 < i.start < i.end < END for i in a)
    assert all(i.expect for i in a)


def test_openmetrics_is_well_formed_and_counters_only_reset_after_an_outage():
    incidents = [history.Incident("outage", END - 3 * 3600, END - 3 * 3600 + 600, 0, ["ServiceDown:critical"]),
                 history.Incident("error_burst", END - 6 * 3600, END - 5 * 3600, 0.3, [])]
    lines = list(history.synth_lines(0.5, 1, END, incidents))
    assert lines[-1] == "# EOF"
    series: dict[str, list[tuple[float, float]]] = {}
    sample = re.compile(r"^([a-z_:]+\{.*\}) ([-0-9.e+]+) (\d+)$")
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            continue
        m = sample.match(line)
        assert m, line
        series.setdefault(m.group(1), []).append((float(m.group(3)), float(m.group(2))))
    for name, points in series.items():
        ts = [t for t, _ in points]
        assert ts == sorted(ts) and len(set(ts)) == len(ts), name
    up = next(p for n, p in series.items() if n.startswith("up{"))
    assert {v for t, v in up if incidents[0].start <= t < incidents[0].end} == {0.0}
    errors = next(p for n, p in series.items() if 'status="500"' in n and 'endpoint="/api/receipts"' in n)
    values = [v for _, v in errors]
    drops = [i for i in range(1, len(values)) if values[i] < values[i - 1]]
    assert len(drops) == 1, "one reset: the restart after the outage"
    assert any('le="0.2"' in n for n in series) and any('le="15"' in n for n in series), "SLO buckets, Prometheus 3 form"


def test_retention_is_checked_before_anything_is_written():
    with pytest.raises(RvlocalError, match="beyond Prometheus' 30d retention"):
        history.check_retention(31)


def test_thresholds_are_found_at_the_top_level_with_their_guards(project):
    t = rules.split_threshold(rules.find_alert(project, "HighErrorRate", "critical").rule["expr"])
    assert (t.op, t.value) == (">", 0.05) and t.rest.strip().startswith("and on (service)")
    assert t.query().startswith("(") and ">= 50" in t.query() and "> 0.05" not in t.query()
    assert rules.split_threshold('histogram_quantile(0.9, sum(rate(x{le!="1"}[5m]))) > 15').value == 15
    with pytest.raises(RvlocalError, match="only `and` guards"):
        rules.split_threshold("a > 0 or b > 0").query()
    with pytest.raises(RvlocalError, match="no comparison"):
        rules.split_threshold("sum(rate(x[5m]))")


def test_ambiguous_alert_names_ask_for_a_severity(project):
    with pytest.raises(RvlocalError, match="--severity"):
        rules.find_alert(project, "HighErrorRate")


def copy_alerts(project, tmp_path) -> Project:
    shutil.copytree(project.root / "alerts", tmp_path / "alerts")
    shutil.copytree(project.compose_dir, tmp_path / "compose", ignore=shutil.ignore_patterns("ca-certificates"))
    return Project(tmp_path)


def test_apply_changes_exactly_the_threshold_and_for_lines(project, tmp_path):
    copy = copy_alerts(project, tmp_path)
    path = copy.root / "alerts" / "receipt-vault.rules.yml"
    before = path.read_text().splitlines()
    seen = []
    rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.07, "3m",
                          lambda d: (seen.append(d) or True, "ok"))
    after = path.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after) and len(changed) == 2, changed
    assert changed[0][1].strip() == ") > 0.07" and changed[1][1].strip() == "for: 3m"
    assert rules.find_alert(copy, "HighErrorRate", "warning").rule["for"] == "5m", "the other rule is untouched"
    assert seen, "the unit tests ran on the edited copy"


def test_a_refused_apply_leaves_the_file_untouched(project, tmp_path):
    copy = copy_alerts(project, tmp_path)
    path = copy.root / "alerts" / "receipt-vault.rules.yml"
    before = path.read_bytes()
    with pytest.raises(RvlocalError, match="breaks promtool unit tests"):
        rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.5, None,
                              lambda d: (False, "FAILED: HighErrorRate at 10%"))
    assert path.read_bytes() == before
