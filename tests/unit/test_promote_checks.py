"""Pre-promotion checks: the good rendering passes each one; a bad variant of it (one mutation
per case, the bad fixtures) fails with a message naming the file, the object and the fix."""

from __future__ import annotations

import copy
import json
import secrets

import pytest

from rvlocal import images, state
from rvlocal.backend.metrics import HISTOGRAM_BUCKETS
from rvlocal.promote import checks
from rvlocal.promote import profile as profiles
from rvlocal.promote.bundle import File
from rvlocal.promote.render import render

RULES = "prometheus-rules/receipt-vault.yaml"
KPS = "values/kube-prometheus-stack.yaml"


@pytest.fixture(scope="module")
def prod_profile(project):
    return profiles.load(project, "production")


@pytest.fixture(scope="module")
def good(project, prod_profile):
    return render(project, prod_profile)


def doc(bundle, path: str) -> dict:
    return bundle.file(path).documents[0]


def first_rule(bundle) -> dict:
    return doc(bundle, RULES)["spec"]["groups"][0]["rules"][0]


def static(bundle, project, profile) -> list[checks.Finding]:
    return [*checks.schemas(bundle, profile["kubernetes_version"]), *checks.selectors(bundle, profile),
            *checks.configmap_sizes(bundle), *checks.bucket_boundaries(bundle), *checks.metrics_exist(bundle, project),
            *checks.secrets(bundle, project), *checks.laptop_urls(bundle), *checks.network_policy(bundle)]


def test_the_good_rendering_passes_every_static_check(good, project, prod_profile):
    assert static(good, project, prod_profile) == []


def _grow_dashboard(b):
    cm = doc(b, "dashboards/grafana-dashboard-debug.yaml")
    (key, text), = cm["data"].items()
    board = json.loads(text)
    board["description"] = "x" * 270_000
    cm["data"][key] = json.dumps(board)


def _unknown_crd_field(b):
    doc(b, "servicemonitor-backend.yaml")["spec"]["endpoints"][0]["scrapeIntervall"] = "15s"


def _bad_duration(b):
    first_rule(b)["for"] = "1 minute"


def _bad_core_field(b):
    doc(b, "networkpolicy-prometheus.yaml")["spec"]["ingress"][0]["portz"] = [9090]


def _unknown_operator_kind(b):
    doc(b, "servicemonitor-backend.yaml")["kind"] = "ServiceMonitors"


def _drop_release(b):
    del doc(b, RULES)["metadata"]["labels"]["release"]


def _wrong_namespace(b):
    doc(b, "servicemonitor-backend.yaml")["metadata"]["namespace"] = "default"


def _explicit_rule_selector(b):
    doc(b, KPS)["prometheus"]["prometheusSpec"]["ruleSelector"] = {"matchLabels": {"team": "sre"}}


def _unlisted_file(b):
    b.files.append(File("extra.yaml", ("profiles/production.yaml",), [{"apiVersion": "v1", "kind": "ConfigMap",
                        "metadata": {"name": "x", "namespace": "monitoring"}, "data": {}}]))


def _off_bucket_le(b):
    rule = first_rule(b)
    rule["expr"] = 'sum(rate(receipt_vault_request_duration_seconds_bucket{le="0.25"}[5m])) > 0'


def _off_bucket_quantile(b):
    for rule in doc(b, RULES)["spec"]["groups"][0]["rules"]:
        if rule.get("alert") == "HighLatencyP95":
            rule["expr"] = rule["expr"].replace(") > 0.2", ") > 0.25")


def _unknown_metric(b):
    first_rule(b)["expr"] = "receipt_vault_uploads_total > 0"


def _unknown_panel_metric(b):
    cm = doc(b, "dashboards/grafana-dashboard-operational.yaml")
    (key, text), = cm["data"].items()
    board = json.loads(text)
    target = next(t for p in board["panels"] for t in p.get("targets", []) if "receipt_vault_requests_total" in t.get("expr", ""))
    target["expr"] = target["expr"].replace("receipt_vault_requests_total", "receipt_vault_request_total")
    cm["data"][key] = json.dumps(board)


def _unknown_variable_metric(b):
    cm = doc(b, "dashboards/grafana-dashboard-operational.yaml")
    (key, text), = cm["data"].items()
    cm["data"][key] = text.replace("label_values(receipt_vault_requests_total", "label_values(receipt_vault_request_total")


def _slack_url(b):
    config = doc(b, KPS)["alertmanager"]["config"]
    slack = next(r for r in config["receivers"] if r["name"] == "slack-critical")["slack_configs"][0]
    del slack["api_url_file"]
    # A webhook-shaped URL made up at run time: nothing credential-shaped is committed.
    team, channel, token = secrets.token_hex(4).upper(), secrets.token_hex(4).upper(), secrets.token_urlsafe(18)
    slack["api_url"] = f"https://hooks.slack.com/services/T{team}/B{channel}/{token}"


def _literal_routing_key(b):
    pd = doc(b, KPS)["alertmanager"]["config"]["receivers"][0]["pagerduty_configs"][0]
    del pd["routing_key_file"]
    pd["routing_key"] = secrets.token_hex(16)


def _secret_object(b):
    b.files.append(File("secret.yaml", (), [{"apiVersion": "v1", "kind": "Secret",
                        "metadata": {"name": "receivers", "namespace": "monitoring"},
                        "stringData": {"slack-critical-url": "https://example.invalid/"}}]))


def _grafana_password_env(b):
    doc(b, KPS)["grafana"]["env"]["GF_SECURITY_ADMIN_PASSWORD"] = secrets.token_urlsafe(12)


def _laptop_link(b):
    first_rule(b)["annotations"]["runbook_url"] = "http://127.0.0.1:9099/runbooks/ServiceDown"


def _wider_network_policy(b):
    doc(b, "networkpolicy-prometheus.yaml")["spec"]["ingress"][0]["from"].append(
        {"namespaceSelector": {}})


BAD = {
    "dashboard ConfigMap past the limit": (_grow_dashboard, "size", "grafana-dashboard-debug", "262,144 bytes"),
    "unknown ServiceMonitor field": (_unknown_crd_field, "schema", "ServiceMonitor/receipt-vault-backend",
                                     "scrapeIntervall is not a field of ServiceMonitor"),
    "rule duration the CRD rejects": (_bad_duration, "schema", "PrometheusRule/receipt-vault", "for"),
    "core field Kubernetes rejects": (_bad_core_field, "schema", "NetworkPolicy", "'portz' was unexpected"),
    "kind the operator does not define": (_unknown_operator_kind, "schema", "ServiceMonitors", "not a kind"),
    "release label deleted": (_drop_release, "selectors", "PrometheusRule/receipt-vault",
                              "lacks the label release=kube-prometheus-stack"),
    "object outside the watched namespace": (_wrong_namespace, "selectors", "ServiceMonitor", "namespace 'default'"),
    "values select other labels": (_explicit_rule_selector, "selectors", "PrometheusRule", "team=sre"),
    "file the kustomization misses": (_unlisted_file, "selectors", "resources", "extra.yaml is not listed"),
    "le that is no bucket": (_off_bucket_le, "buckets", "rule ServiceDown", 'le="0.25"'),
    "latency threshold that is no bucket": (_off_bucket_quantile, "buckets", "rule HighLatencyP95", "with 0.25"),
    "metric nothing exposes (rule)": (_unknown_metric, "metrics", "rule ServiceDown", "receipt_vault_uploads_total"),
    "metric nothing exposes (panel)": (_unknown_panel_metric, "metrics", "panel", "receipt_vault_request_total"),
    "metric nothing exposes (variable)": (_unknown_variable_metric, "metrics", "variable $service",
                                          "receipt_vault_request_total"),
    "Slack webhook URL in the config": (_slack_url, "secrets", "", "Slack webhook URL"),
    "literal PagerDuty routing key": (_literal_routing_key, "secrets", "", "routing_key holds a literal credential"),
    "Secret object with values": (_secret_object, "secrets", "Secret/receivers", "is a Secret with its values"),
    "Grafana password in the environment": (_grafana_password_env, "secrets", "", "GF_SECURITY_ADMIN_PASSWORD"),
    "link to the laptop": (_laptop_link, "urls", "PrometheusRule/receipt-vault", "http://127.0.0.1:9099/runbooks/ServiceDown"),
    "NetworkPolicy admits more than Grafana": (_wider_network_policy, "network", "NetworkPolicy", "more than Grafana"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_each_bad_variant_fails_with_a_message_that_names_what_to_fix(good, project, prod_profile, case):
    mutate, check, obj, text = BAD[case]
    bad = copy.deepcopy(good)
    mutate(bad)
    found = [f for f in static(bad, project, prod_profile) if f.check == check]
    assert found, f"{case}: the {check} check did not notice"
    message = "\n".join(str(f) for f in found)
    assert obj in message and text in message, message
    assert all(f.file and f.fix for f in found), "every finding names its file and what to do"


def test_a_moved_bucket_fails_the_slo_rules_and_alerts_that_use_the_old_boundary(good):
    moved = {**HISTOGRAM_BUCKETS, "receipt_vault_request_duration_seconds": (0.1, 0.25, 0.5, 1.0)}
    found = checks.merged(checks.bucket_boundaries(good, moved))
    files = {f.file for f in found}
    assert files == {RULES, "prometheus-rules/receipt-vault-api-latency.yaml"}
    assert any("and 6 more" in f.obj for f in found), "seven SLI windows, one finding"
    assert checks.bucket_boundaries(good) == []


def test_a_generated_local_secret_found_in_the_output_is_named(good, source_copy):
    password = state.ensure_grafana_password(source_copy).read_text().strip()
    bad = copy.deepcopy(good)
    doc(bad, "grafana-datasources.yaml")["data"]["note"] = f"admin password is {password}"
    found = checks.secrets(bad, source_copy)
    assert [f.problem for f in found] == ["contains the secret value of .rvlocal/grafana-admin-password"]


def test_a_folder_edited_by_hand_is_stale(good, tmp_path):
    edited = copy.deepcopy(good)
    _drop_release(edited)
    del edited.files[-1]
    found = checks.stale(edited, good)
    assert {(f.file, f.problem) for f in found} == {
        (RULES, "differs from what the sources render now"), ("kustomization.yaml", "missing from the folder")}


# --- the servers' own checkers (Docker) ---------------------------------------------------------

@pytest.fixture(scope="module")
def checker_images(project, docker):
    try:
        return (images.present("prometheus", project.versions(), docker),
                images.present("alertmanager", project.versions(), docker))
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no Prometheus/Alertmanager image: {exc}")


@pytest.mark.docker
def test_promtool_and_amtool_pass_the_good_rendering(good, project, prod_profile, docker, checker_images):
    prom, am = checker_images
    assert checks.promtool(good, project, prod_profile, docker, prom) == []
    assert checks.amtool(good, project, prod_profile, docker, am) == []


@pytest.mark.docker
def test_promtool_rejects_a_rule_that_does_not_parse(good, project, prod_profile, docker, checker_images):
    bad = copy.deepcopy(good)
    first_rule(bad)["expr"] = "sum(rate(up[5m]) > 0"
    found = checks.promtool(bad, project, prod_profile, docker, checker_images[0])
    assert len(found) == 1 and found[0].file == RULES and "promtool check rules fails" in found[0].problem


@pytest.mark.docker
def test_promtool_unit_tests_run_on_the_promoted_groups(good, project, prod_profile, docker, checker_images):
    bad = copy.deepcopy(good)
    first_rule(bad)["for"] = "10m"  # ServiceDown would page 9 minutes later than its test expects
    found = checks.promtool(bad, project, prod_profile, docker, checker_images[0])
    assert len(found) == 1 and "fail their promtool tests" in found[0].problem
    assert "ServiceDown" in found[0].problem


@pytest.mark.docker
def test_amtool_rejects_a_broken_config_and_a_changed_route(good, project, prod_profile, docker, checker_images):
    bad = copy.deepcopy(good)
    doc(bad, KPS)["alertmanager"]["config"]["route"]["receiver"] = "nobody"
    found = checks.amtool(bad, project, prod_profile, docker, checker_images[1])
    assert len(found) == 1 and "amtool check-config fails" in found[0].problem and "nobody" in found[0].problem
    rerouted = copy.deepcopy(good)
    rerouted_routes = doc(rerouted, KPS)["alertmanager"]["config"]["route"]["routes"]
    rerouted_routes[0]["matchers"] = ['severity="page"']
    found = checks.amtool(rerouted, project, prod_profile, docker, checker_images[1])
    assert len(found) == 1 and "routes differently" in found[0].problem
