"""Helm values for the charts production installs, built as data from the local configs plus
the profile: kube-prometheus-stack (Prometheus, Alertmanager, Grafana), Loki, Promtail, Jaeger v2."""

from __future__ import annotations

import copy

from rvlocal.promote.bundle import File
from rvlocal.promote.local import LocalStack
from rvlocal.promote.localize import Localizer, local_urls
from rvlocal.promote.manifests import GRAFANA_PODS
from rvlocal.promote.profile import Profile
from rvlocal.promote.tree import map_strings

SECRETS_DIR = "/etc/alertmanager/secrets"   # where the local config reads receivers' files
TEMPLATES_DIR = "/etc/alertmanager/config"  # where kube-prometheus-stack mounts templateFiles
HOSTNAME = "kubernetes.io/hostname"
# Grafana settings that hold or point at credentials: the chart's admin.existingSecret replaces them.
GRAFANA_CREDENTIAL_ENV = ("GF_SECURITY_ADMIN_USER", "GF_SECURITY_ADMIN_PASSWORD__FILE")
LOKI_DATA = ("/loki/", "/var/loki/")        # local data path → the chart's volume mount


def _claim(storage: dict) -> dict:
    return {"volumeClaimTemplate": {"spec": {
        "storageClassName": storage["storageClassName"], "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": storage["size"]}}}}}


def alertmanager_config(local: LocalStack, profile: Profile, localize: Localizer) -> dict:
    """The local alertmanager.yml with receivers reading the mounted Secret, templates where the
    chart mounts them, and PagerDuty's own events URL instead of the local sink."""
    config = copy.deepcopy(local.alertmanager)
    config["templates"] = [f"{TEMPLATES_DIR}/*.tmpl"]
    secret = profile["secrets"]["receivers"]
    for receiver in config.get("receivers", []):
        for kind, configs in receiver.items():
            if not kind.endswith("_configs"):
                continue
            for entry in configs:
                for key, value in list(entry.items()):
                    if key.endswith("_file") and str(value).startswith(SECRETS_DIR + "/"):
                        entry[key] = f"{SECRETS_DIR}/{secret}/{value[len(SECRETS_DIR) + 1:]}"
                if kind == "pagerduty_configs" and local_urls(str(entry.get("url", ""))):
                    del entry["url"]
    return localize.apply(config)


def secret_keys(config: dict, secret: str) -> list[str]:
    """The keys the receivers read from the Secret (what it must hold)."""
    prefix = f"{SECRETS_DIR}/{secret}/"
    keys = {v[len(prefix):] for r in config.get("receivers", []) for kind, cs in r.items()
            if kind.endswith("_configs") for c in cs for k, v in c.items()
            if k.endswith("_file") and str(v).startswith(prefix)}
    return sorted(keys)


def kube_prometheus_stack(local: LocalStack, profile: Profile, localize: Localizer) -> dict:
    prom, am, graf = profile["prometheus"], profile["alertmanager"], profile["grafana"]
    global_ = local.prometheus.get("global", {})
    external_labels = {**global_.get("external_labels", {}), "environment": profile["environment"]}
    grafana_env = {k: localize.text(str(v)) for k, v in local.service("grafana").get("environment", {}).items()
                   if k not in GRAFANA_CREDENTIAL_ENV}
    grafana_env["GF_SERVER_ROOT_URL"] = profile["urls"]["grafana"]
    return {
        "prometheus": {"prometheusSpec": {
            "image": local.image("prometheus"),
            "replicas": prom["replicas"],
            "retention": prom["retention"],
            "retentionSize": prom["retentionSize"],
            "resources": prom["resources"],
            "storageSpec": _claim(prom["storage"]),
            "podAntiAffinity": "hard",
            "podAntiAffinityTopologyKey": HOSTNAME,
            "externalUrl": profile["urls"]["prometheus"],
            "externalLabels": external_labels,
            "scrapeInterval": global_.get("scrape_interval", "1m"),
            "evaluationInterval": global_.get("evaluation_interval", "1m"),
            "enableFeatures": local.features("prometheus"),
            # Select PrometheusRules and ServiceMonitors labelled release=<release> (the default,
            # spelled out because the release-label check relies on it).
            "ruleSelectorNilUsesHelmValues": True,
            "serviceMonitorSelectorNilUsesHelmValues": True,
        }},
        "alertmanager": {
            "config": alertmanager_config(local, profile, localize),
            "templateFiles": local.alertmanager_templates(),
            "alertmanagerSpec": {
                "image": local.image("alertmanager"),
                "replicas": am["replicas"],
                "resources": am["resources"],
                "storage": _claim(am["storage"]),
                "podAntiAffinity": "hard",
                "podAntiAffinityTopologyKey": HOSTNAME,
                "externalUrl": profile["urls"]["alertmanager"],
                "secrets": [profile["secrets"]["receivers"]],
            },
        },
        "grafana": {
            "image": local.image("grafana"),
            "replicas": graf["replicas"],
            "resources": graf["resources"],
            "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": dict(GRAFANA_PODS)}, "topologyKey": HOSTNAME}]}},
            "admin": {"existingSecret": profile["secrets"]["grafana_admin"],
                      "userKey": "admin-user", "passwordKey": "admin-password"},
            "env": grafana_env,
            "sidecar": {
                "dashboards": {"enabled": True, "label": "grafana_dashboard", "labelValue": "1",
                               "folderAnnotation": "grafana_folder",
                               "provider": {"foldersFromFilesStructure": True}},
                # Our datasources ConfigMap defines the default Prometheus (uid prometheus, which
                # dashboards use); the chart's own would be a second default, which Grafana refuses.
                "datasources": {"enabled": True, "label": "grafana_datasource", "labelValue": "1",
                                "defaultDatasourceEnabled": False},
            },
        },
    }


def loki(local: LocalStack, profile: Profile) -> dict:
    """Monolithic (SingleBinary) Loki on a filesystem volume, with the local schema, limits and
    compactor; retention from the profile."""
    def on_volume(path: str) -> str:
        return path.replace(*LOKI_DATA) if path.startswith(LOKI_DATA[0]) else path

    config = local.loki
    limits = {**config.get("limits_config", {}), "retention_period": profile["loki"]["retention"]}
    storage = profile["loki"]["storage"]
    return {
        "deploymentMode": "SingleBinary",
        "loki": {
            "image": local.image("loki"),
            "auth_enabled": config.get("auth_enabled", False),
            "commonConfig": {"replication_factor": 1},
            "storage": {"type": "filesystem"},
            "schemaConfig": config["schema_config"],
            "limits_config": limits,
            "compactor": map_strings(config.get("compactor", {}), on_volume),
            "analytics": config.get("analytics", {}),
        },
        "singleBinary": {"replicas": 1, "resources": profile["loki"]["resources"],
                         "persistence": {"enabled": True, "storageClass": storage["storageClassName"],
                                         "size": storage["size"]}},
        "read": {"replicas": 0}, "write": {"replicas": 0}, "backend": {"replicas": 0},
        "chunksCache": {"enabled": False}, "resultsCache": {"enabled": False},
    }


def promtail(local: LocalStack, profile: Profile, localize: Localizer) -> dict:
    """The local pipeline (health-check drop, JSON level, trace_id as structured metadata) after
    the CRI parser Kubernetes logs need; `service` from the pod's app.kubernetes.io/name, so the
    logs carry the same service label as the metrics."""
    config = local.promtail
    job = config["scrape_configs"][0]
    backend = profile["backend"]["service_labels"].get("app.kubernetes.io/name", "receipt-vault-backend")
    stages = localize.apply(copy.deepcopy(job.get("pipeline_stages", [])))
    for stage in stages:
        match = stage.get("match")
        if match and match.get("selector") == '{service="backend"}':
            match["selector"] = f'{{service="{backend}"}}'
    return {
        "image": local.image("promtail"),
        "resources": profile["promtail"]["resources"],
        "config": {
            "clients": localize.apply(config["clients"]),
            "snippets": {
                "pipelineStages": [{"cri": {}}, *stages],
                "extraRelabelConfigs": [{"source_labels": ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
                                         "target_label": "service"}],
            },
        },
    }


def jaeger(local: LocalStack, profile: Profile, localize: Localizer) -> dict:
    """Jaeger v2 all-in-one with the local OpenTelemetry-collector config (OTLP, bounded memory
    store, spanmetrics, Prometheus as the metrics backend at its in-cluster address)."""
    return {
        "provisionDataStore": {"cassandra": False},
        "storage": {"type": "memory"},
        "jaeger": {"image": local.image("jaeger"), "resources": profile["jaeger"]["resources"]},
        "userconfig": localize.apply(local.jaeger),
    }


def values_files(local: LocalStack, profile: Profile, localize: Localizer) -> dict[str, File]:
    """Chart name → its values file."""
    p = profile.source
    return {
        "kube-prometheus-stack": File(
            "values/kube-prometheus-stack.yaml",
            ("compose/.env", "compose/compose.yaml", "compose/prometheus/prometheus.yml",
             "compose/alertmanager/alertmanager.yml", "compose/alertmanager/templates", p),
            [kube_prometheus_stack(local, profile, localize)]),
        "loki": File("values/loki.yaml", ("compose/.env", "compose/loki/loki.yaml", p), [loki(local, profile)]),
        "promtail": File("values/promtail.yaml", ("compose/.env", "compose/promtail/promtail.yaml", p),
                         [promtail(local, profile, localize)]),
        "jaeger": File("values/jaeger.yaml", ("compose/.env", "compose/jaeger/jaeger.yaml", p),
                       [jaeger(local, profile, localize)]),
    }
