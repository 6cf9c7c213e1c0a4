"""The checks `rvlocal check` runs with the real promtool and amtool inside the stack's images
(rules, unit tests, routes, templates, dashboard PromQL): they pass on the repository and fail,
naming the problem, on a broken copy."""

from __future__ import annotations

import shutil

import pytest
import yaml

from rvlocal import checks
from rvlocal.project import Project

pytestmark = [pytest.mark.docker]


@pytest.fixture
def broken(project, tmp_path) -> Project:
    for folder in ("alerts", "compose", "dashboards"):
        shutil.copytree(project.root / folder, tmp_path / folder,
                        ignore=shutil.ignore_patterns("ca-certificates"))
    return Project(tmp_path)


def test_the_repository_passes(project, docker, server_images):
    assert checks.promtool_test_rules(project, docker, server_images["prometheus"]).ok
    assert checks.amtool_check_config(project, docker, server_images["alertmanager"]).ok
    routes = checks.amtool_routes(project, docker, server_images["alertmanager"])
    assert routes.ok and "6 routing cases" in routes.detail
    queries = checks.promtool_dashboard_queries(project, docker, server_images["prometheus"])
    assert queries.ok and queries.detail.endswith(" queries")


def test_a_wrong_threshold_fails_its_unit_test(broken, docker, server_images):
    path = broken.root / "alerts" / "receipt-vault.rules.yml"
    path.write_text(path.read_text().replace(") > 0.05\n", ") > 0.5\n", 1))  # critical at 50%, not 5%
    result = checks.promtool_test_rules(broken, docker, server_images["prometheus"])
    assert not result.ok and "HighErrorRate" in result.detail and "FAILED" in result.detail


def test_a_routing_change_breaks_the_route_assertions(broken, docker, server_images):
    path = broken.root / "compose" / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(path.read_text())
    del config["route"]["routes"][0]["continue"]  # critical would reach PagerDuty only
    path.write_text(yaml.safe_dump(config))
    result = checks.amtool_routes(broken, docker, server_images["alertmanager"])
    assert not result.ok
    assert "reaches ['pagerduty-critical'], expected ['pagerduty-critical', 'slack-critical']" in result.detail


def test_a_broken_template_fails_check_config(broken, docker, server_images):
    path = broken.root / "compose" / "alertmanager" / "templates" / "receipt-vault.tmpl"
    path.write_text(path.read_text() + '\n{{ define "oops" }}{{ .Nope | noSuchFunction }}{{ end }}\n')
    result = checks.amtool_check_config(broken, docker, server_images["alertmanager"])
    assert not result.ok and "noSuchFunction" in result.detail


def test_a_dashboard_query_promtool_rejects_names_file_panel_and_target(broken, docker, server_images, project):
    shutil.copy(project.root / "tests/unit/dashboards/bad/bad-promql.json", broken.root / "dashboards")
    result = checks.promtool_dashboard_queries(broken, docker, server_images["prometheus"])
    assert not result.ok
    assert 'bad-promql.json: panel 2 "Requests": target A: could not parse expression' in result.detail
