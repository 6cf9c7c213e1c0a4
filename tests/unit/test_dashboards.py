"""Static dashboard checks (no Grafana): the four dashboards pass; each bad fixture fails with
the file, the panel and the problem named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rvlocal import dashboards

FIXTURES = Path(__file__).parent / "dashboards"


def test_the_four_dashboards_pass(project):
    assert [p.stem for p in dashboards.files(project)] == ["debug", "executive", "operational", "slo"]
    assert [str(p) for p in dashboards.static_problems(project)] == []


def test_dashboards_use_fixed_uids_variables_units_and_thresholds(project):
    for path in dashboards.files(project):
        raw = json.loads(path.read_text())
        assert raw["uid"] == f"rv-{path.stem}"
        names = {v["name"] for v in raw["templating"]["list"]}
        assert {"service", "environment"} <= names, path.name
        for panel in dashboards.load(path).panels:
            if panel.is_prometheus:
                source = next(p for p in dashboards._panels(raw["panels"]) if p["id"] == panel.id)
                assert source["fieldConfig"]["defaults"].get("unit"), f"{path.name}: {panel.title} has no unit"
                assert source["fieldConfig"]["defaults"].get("thresholds"), f"{path.name}: {panel.title}"


def test_the_dashboards_cover_what_production_shows(project):
    titles = {p.stem: {panel.title for panel in dashboards.load(p).panels} for p in dashboards.files(project)}
    assert {"Receipts processed (last hour)", "Processing success rate", "OCR confidence (mean)",
            "API error budget remaining (30 days)", "API availability this month"} <= titles["executive"]
    assert {"Request rate", "Error ratio (5xx)", "p50 latency", "p95 latency", "p99 latency",
            "Scrape targets up", "Alerts firing by severity"} <= titles["operational"]
    assert {"Request latency heat map (with exemplars)", "Backend logs", "Trace search"} <= titles["debug"]
    assert {"SLI against objective", "Burn rate over the alert windows", "Error budget remaining (30 days)"} <= titles["slo"]


def test_the_alert_dashboard_links_point_at_real_dashboards(project):
    from rvlocal import rules
    uids = {json.loads(p.read_text())["uid"] for p in dashboards.files(project)}
    for alert in rules.alerts(project):
        url = alert.rule["annotations"]["dashboard_url"]
        assert url.split("/d/")[1].split("?")[0] in uids, f"{alert.name}: {url}"


def test_good_fixture_passes(project):
    assert dashboards.static_problems(project, [FIXTURES / "good.json"]) == []


@pytest.mark.parametrize("name, expected", [
    ("duplicate-panel-id", 'duplicate-panel-id.json: panel 2: panel id used more than once'),
    ("unknown-datasource", 'unknown-datasource.json: panel 2 "Requests": datasource uid \'thanos\' is not provisioned'),
    ("unknown-metric", 'unknown-metric.json: panel 2 "Requests": target B uses receipt_vault_uploads_total, which neither'),
    ("unknown-variable-metric", "unknown-variable-metric.json: variable service: label_values() reads "
                                "receipt_vault_request_total"),
    ("not-json", "not-json.json: not valid JSON"),
    ("too-big", "over the 262144-byte limit"),
])
def test_bad_fixtures_name_file_panel_and_problem(project, name, expected):
    problems = [str(p) for p in dashboards.static_problems(project, [FIXTURES / "bad" / f"{name}.json"])]
    assert any(expected in p for p in problems), problems


def test_variables_are_substituted_before_parsing():
    assert dashboards.substitute('rate(x{s=~"$service", e=~"${environment}"}[$__rate_interval])') == \
        'rate(x{s=~"receipt-vault-backend", e=~".*"}[1m])'


@pytest.mark.parametrize("expr, names", [
    ("sum by (le) (rate(a_bucket{le=\"0.2\"}[5m]))", {"a_bucket"}),
    ("1 - slo:sli_error:ratio_rate30d{x=\"y\"} / ignoring (sloth_window) slo:error_budget:ratio", {"slo:sli_error:ratio_rate30d", "slo:error_budget:ratio"}),
    ("histogram_quantile(0.9, sum by (le) (rate(b[1m]))) > 15 and on (s) up offset 5m", {"b", "up"}),
    ("sum(c) or vector(0)", {"c"}),
])
def test_metric_names_are_found_in_promql(expr, names):
    assert dashboards.metric_names(expr) == names


def test_preview_legends_follow_grafanas_legend_format():
    from rvlocal.preview import _legend
    assert _legend("{{endpoint}} {{ status }}", {"endpoint": "/api/receipts", "status": "200"}) == "/api/receipts 200"
    assert _legend("{{type}}", {}) == "value", "a missing label is empty, never the raw placeholder"
    assert _legend("", {"__name__": "up", "job": "x"}) == "job=x"
