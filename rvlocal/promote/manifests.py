"""Kubernetes objects built as data from the local sources: PrometheusRules, the backend's
ServiceMonitor, dashboard and datasource ConfigMaps, the NetworkPolicy, the kustomization."""

from __future__ import annotations

import re

from rvlocal import dashboards, rules, yamlout
from rvlocal.promote.bundle import File
from rvlocal.promote.local import LocalStack
from rvlocal.promote.localize import Localizer
from rvlocal.promote.profile import Profile

SOURCE_ANNOTATION = "rvlocal/source"
PART_OF = {"app.kubernetes.io/part-of": "receipt-vault", "app.kubernetes.io/managed-by": "rvlocal"}
# Labels the kube-prometheus-stack chart puts on the pods it runs.
PROMETHEUS_PODS = {"app.kubernetes.io/name": "prometheus"}
GRAFANA_PODS = {"app.kubernetes.io/name": "grafana"}
PROMETHEUS_PORT = 9090
RELABEL_KEYS = {"source_labels": "sourceLabels", "target_label": "targetLabel"}


def _meta(profile: Profile, name: str, labels: dict | None = None, source: str | None = None,
          annotations: dict | None = None) -> dict:
    meta = {"name": name, "namespace": profile["namespace"],
            "labels": {**PART_OF, **(labels or {})}}
    notes = {**({SOURCE_ANNOTATION: source} if source else {}), **(annotations or {})}
    if notes:
        meta["annotations"] = notes
    return meta


def _dns_name(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def prometheus_rules(local: LocalStack, profile: Profile, localize: Localizer) -> list[File]:
    """One PrometheusRule per rule file, hand-written and generated, labelled for the release."""
    files = []
    for path in rules.rule_files(local.project):
        source = local.relative(path)
        name = _dns_name(path.name.removesuffix(".rules.yml"))
        doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PrometheusRule",
               "metadata": _meta(profile, name, {"release": profile["release"]}, source),
               "spec": {"groups": localize.apply(rules.load(path)["groups"])}}
        files.append(File(f"prometheus-rules/{name}.yaml", (source, profile.source), [doc]))
    return files


def _relabel(config: dict) -> dict:
    """A Prometheus relabel config in the operator's spelling (sourceLabels, targetLabel)."""
    return {RELABEL_KEYS.get(k, k): v for k, v in config.items()}


def backend_service_monitor(local: LocalStack, profile: Profile) -> File:
    """The backend's scrape job as a ServiceMonitor. The operator would name `job` and `service`
    after the Kubernetes Service; relabelling keeps the local job's values, which rules select on."""
    job = local.scrape_job("receipt-vault-backend")
    static_labels = {k: v for sc in job.get("static_configs", []) for k, v in (sc.get("labels") or {}).items()}
    keep = {"job": job["job_name"], **static_labels}
    endpoint = {
        "port": profile["backend"]["port"],
        "path": job.get("metrics_path", "/metrics"),
        "interval": job.get("scrape_interval", local.prometheus["global"]["scrape_interval"]),
        "relabelings": [{"action": "replace", "targetLabel": k, "replacement": v} for k, v in keep.items()],
    }
    if job.get("metric_relabel_configs"):
        endpoint["metricRelabelings"] = [_relabel(c) for c in job["metric_relabel_configs"]]
    doc = {"apiVersion": "monitoring.coreos.com/v1", "kind": "ServiceMonitor",
           "metadata": _meta(profile, "receipt-vault-backend", {"release": profile["release"]},
                             "compose/prometheus/prometheus.yml"),
           "spec": {"namespaceSelector": {"matchNames": [profile["backend"]["namespace"]]},
                    "selector": {"matchLabels": dict(profile["backend"]["service_labels"])},
                    "endpoints": [endpoint]}}
    return File("servicemonitor-backend.yaml", ("compose/prometheus/prometheus.yml", profile.source), [doc])


def dashboard_configmaps(local: LocalStack, profile: Profile, localize: Localizer) -> list[File]:
    """Each dashboard as a ConfigMap the Grafana sidecar loads (label grafana_dashboard=1),
    into the folder the local provisioning uses."""
    folder = local.dashboard_provider.get("folder", "")
    files = []
    for path in dashboards.files(local.project):
        source = local.relative(path)
        name = f"grafana-dashboard-{_dns_name(path.stem)}"
        doc = {"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": _meta(profile, name, {"grafana_dashboard": "1"}, source,
                                 {"grafana_folder": folder} if folder else None),
               "data": {path.name: localize.text(path.read_text(encoding="utf-8"))}}
        files.append(File(f"dashboards/{name}.yaml", (source, profile.source), [doc]))
    return files


def datasources_configmap(local: LocalStack, profile: Profile, localize: Localizer) -> File:
    source = "compose/grafana/provisioning/datasources/datasources.yaml"
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": _meta(profile, "grafana-datasources", {"grafana_datasource": "1"}, source),
           "data": {"datasources.yaml": yamlout.dump(localize.apply(local.datasources))}}
    return File("grafana-datasources.yaml", (source, profile.source), [doc])


def network_policy(profile: Profile) -> File:
    """Production's rule: only Grafana reaches Prometheus' API port."""
    doc = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": _meta(profile, "prometheus-from-grafana-only"),
           "spec": {"podSelector": {"matchLabels": dict(PROMETHEUS_PODS)},
                    "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": dict(GRAFANA_PODS)}}],
                                 "ports": [{"protocol": "TCP", "port": PROMETHEUS_PORT}]}]}}
    return File("networkpolicy-prometheus.yaml", (profile.source,), [doc])


def kustomization(profile: Profile, files: list[File], values: dict[str, str]) -> File:
    """Every object, and each Helm chart with its values file (`kustomize build --enable-helm`)."""
    release_names = {"kube-prometheus-stack": profile["release"]}
    charts = [{"name": chart, "repo": profile["charts"][chart]["repo"],
               "version": str(profile["charts"][chart]["version"]),
               "releaseName": release_names.get(chart, chart), "namespace": profile["namespace"],
               "valuesFile": path}
              for chart, path in values.items()]
    doc = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
           "namespace": profile["namespace"],
           "resources": [f.path for f in files if not f.is_values],
           "helmCharts": charts}
    return File("kustomization.yaml", (profile.source,), [doc])
