"""Alert conventions (severity, annotations, runbooks, unit tests) and the fast variant,
derived from the same rule files."""

from __future__ import annotations

import shutil

import yaml

from rvlocal import rules
from rvlocal.project import Project


def copy_project(project, tmp_path) -> Project:
    shutil.copytree(project.root / "alerts", tmp_path / "alerts")
    shutil.copytree(project.compose_dir / "alertmanager", tmp_path / "compose" / "alertmanager")
    (tmp_path / "compose" / ".env").write_text(project.versions_file.read_text())
    return Project(tmp_path)


def test_every_alert_follows_the_conventions_and_has_tests(project):
    assert rules.convention_problems(project) == []
    assert rules.untested(project) == []
    names = {a.name for a in rules.alerts(project)}
    assert {"ServiceDown", "HighErrorRate", "HighLatencyP95", "ReceiptProcessingSuccessLow", "OCRLatencyP90High",
            "ReadinessFailing", "OCRConfidenceLow", "TargetDown", "AlertmanagerNotificationsFailing",
            "PrometheusRuleEvaluationFailures", "LogsDropped", "TracesDropped",
            "APIAvailabilityErrorBudgetBurn", "APILatencyErrorBudgetBurn",
            "ReceiptProcessingErrorBudgetBurn", "OCRLatencyErrorBudgetBurn"} <= names


def test_a_missing_runbook_annotation_or_test_is_reported(project, tmp_path):
    copy = copy_project(project, tmp_path)
    (copy.root / "alerts" / "runbooks" / "TracesDropped.md").unlink()
    path = copy.root / "alerts" / "receipt-vault.rules.yml"
    data = yaml.safe_load(path.read_text())
    rule = data["groups"][0]["rules"][0]
    del rule["annotations"]["dashboard_url"]
    rule["labels"]["severity"] = "urgent"
    data["groups"][0]["rules"].append({"alert": "Untested", "expr": "vector(1)", "labels": {"severity": "info"},
                                       "annotations": {k: "x" for k in rules.REQUIRED_ANNOTATIONS}})
    path.write_text(yaml.safe_dump(data))
    problems = "\n".join(rules.convention_problems(copy))
    assert "ServiceDown: severity label is 'urgent'" in problems
    assert "ServiceDown: missing annotations dashboard_url" in problems
    assert "no runbook alerts/runbooks/TracesDropped.md" in problems
    assert "Untested: runbook_url x does not lead" in problems
    assert rules.untested(copy) == ["Untested has no a firing case and no a silent case in alerts/tests/"]


def test_fast_variant_caps_for_windows_and_group_timings(project, tmp_path):
    copy = copy_project(project, tmp_path)
    env = rules.write_fast_variant(copy, "demo")
    variant = yaml.safe_load((tmp_path / ".rvlocal/variants/demo/rules/receipt-vault.rules.yml").read_text())
    source = yaml.safe_load((copy.root / "alerts/receipt-vault.rules.yml").read_text())
    fast = {r["alert"] + r["labels"]["severity"]: r for g in variant["groups"] for r in g["rules"]}
    slow = {r["alert"] + r["labels"]["severity"]: r for g in source["groups"] for r in g["rules"]}
    assert fast.keys() == slow.keys(), "the variant has exactly the source's alerts"
    assert fast["ServiceDowncritical"]["for"] == "15s" and slow["ServiceDowncritical"]["for"] == "1m"
    assert "[1m]" in fast["HighErrorRatecritical"]["expr"] and "[5m]" not in fast["HighErrorRatecritical"]["expr"]
    assert fast["HighErrorRatecritical"]["expr"].replace("[1m]", "[5m]") == slow["HighErrorRatecritical"]["expr"]
    generated = list((tmp_path / ".rvlocal/variants/demo/rules/generated").glob("*.rules.yml"))
    assert len(generated) == 4
    am = yaml.safe_load((tmp_path / ".rvlocal/variants/demo/alertmanager.yml").read_text())
    assert (am["route"]["group_wait"], am["route"]["group_interval"]) == ("5s", "10s")
    assert am["route"]["repeat_interval"] == "4h" and am["inhibit_rules"]
    assert env["PROMETHEUS_RULES_DIR"].endswith("variants/demo/rules")
