"""What promotion changes: the local stack's settings beside the rendered environment's, for a
reviewer. Local values come from compose/; the environment's from the rendered values files, so
the table shows what would be applied, not what the profile meant."""

from __future__ import annotations

from dataclasses import dataclass

from rvlocal import dashboards, rules, state
from rvlocal.project import Project
from rvlocal.promote.bundle import Bundle
from rvlocal.promote.helm_values import SECRETS_DIR
from rvlocal.promote.local import LocalStack
from rvlocal.promote.localize import Localizer
from rvlocal.promote.profile import Profile


@dataclass(frozen=True)
class Row:
    component: str
    setting: str
    local: str
    remote: str

    @property
    def changed(self) -> bool:
        return self.local != self.remote


def _resources(resources: dict) -> str:
    parts = []
    for kind in ("requests", "limits"):
        if resources.get(kind):
            parts.append(f"{kind} " + " ".join(f"{k}={v}" for k, v in resources[kind].items()))
    return "; ".join(parts) or "none"


def _compose_limits(limits: dict) -> str:
    if not limits:
        return "none"
    return "limits " + " ".join(f"{'cpu' if k == 'cpus' else k}={v}" for k, v in limits.items())


def _claim(spec: dict) -> str:
    claim = (spec.get("volumeClaimTemplate") or {}).get("spec") or {}
    return f"{claim.get('storageClassName')} {claim.get('resources', {}).get('requests', {}).get('storage')}"


def _receivers(config: dict) -> dict[str, str]:
    """receiver → where its URL/key comes from."""
    out = {}
    for r in config.get("receivers", []):
        for kind, configs in r.items():
            if not kind.endswith("_configs"):
                continue
            for c in configs:
                files = [str(v) for k, v in c.items() if k.endswith("_file")]
                url = c.get("url")
                out[r["name"]] = ", ".join(files) + (f" (events to {url})" if url else "")
    return out


def _secret_reference(path: str) -> str:
    secret, _, key = path.removeprefix(SECRETS_DIR + "/").partition("/")
    return f"Secret {secret}, key {key}" if key else path


def rows(project: Project, profile: Profile, bundle: Bundle) -> list[Row]:
    local = LocalStack(project)
    values = bundle.file("values/kube-prometheus-stack.yaml").documents[0]
    prom, am = values["prometheus"]["prometheusSpec"], values["alertmanager"]["alertmanagerSpec"]
    graf = values["grafana"]
    loki = bundle.file("values/loki.yaml").documents[0]
    promtail = bundle.file("values/promtail.yaml").documents[0]
    jaeger = bundle.file("values/jaeger.yaml").documents[0]
    pflags = local.command_flags("prometheus")
    out = [
        Row("Prometheus", "replicas", "1", str(prom["replicas"])),
        Row("Prometheus", "retention", pflags.get("storage.tsdb.retention.time", "15d"), prom["retention"]),
        Row("Prometheus", "retention size", pflags.get("storage.tsdb.retention.size", "none"), prom["retentionSize"]),
        Row("Prometheus", "storage", "docker volume prometheus-data", _claim(prom["storageSpec"])),
        Row("Prometheus", "resources", _compose_limits(local.limits("prometheus")), _resources(prom["resources"])),
        Row("Prometheus", "anti-affinity", "none (one host)", f"{prom['podAntiAffinity']} per {prom['podAntiAffinityTopologyKey']}"),
        Row("Prometheus", "external URL", pflags.get("web.external-url", ""), prom["externalUrl"]),
        Row("Prometheus", "environment label", local.prometheus.get("global", {}).get("external_labels", {}).get("environment", ""),
            prom["externalLabels"].get("environment", "")),
        Row("Alertmanager", "replicas", "1", str(am["replicas"])),
        Row("Alertmanager", "storage", "docker volume alertmanager-data", _claim(am["storage"])),
        Row("Alertmanager", "resources", _compose_limits(local.limits("alertmanager")), _resources(am["resources"])),
        Row("Alertmanager", "anti-affinity", "none (one host)", f"{am['podAntiAffinity']} per {am['podAntiAffinityTopologyKey']}"),
        Row("Alertmanager", "external URL", local.command_flags("alertmanager").get("web.external-url", ""), am["externalUrl"]),
    ]
    local_receivers, remote_receivers = _receivers(local.alertmanager), _receivers(values["alertmanager"]["config"])
    for name in local_receivers:
        local_dir = state.alertmanager_secrets_dir(project).relative_to(project.root).as_posix()
        local_source = local_receivers[name].replace(SECRETS_DIR, local_dir)
        remote = remote_receivers.get(name, "(missing)")
        remote_source = ", ".join(_secret_reference(p.strip()) for p in remote.split(" (")[0].split(","))
        if " (events to " not in remote and " (events to " in local_source:
            remote_source += " (events to the service's own API)"
        out.append(Row("Alertmanager", f"receiver {name}", local_source, remote_source))
    out += [
        Row("Grafana", "replicas", "1", str(graf["replicas"])),
        Row("Grafana", "resources", _compose_limits(local.limits("grafana")), _resources(graf["resources"])),
        Row("Grafana", "admin password", f"{state.grafana_password_file(project).relative_to(project.root)} (generated)",
            f"Secret {graf['admin']['existingSecret']}, key {graf['admin']['passwordKey']}"),
        Row("Grafana", "root URL", str(local.service("grafana").get("environment", {}).get("GF_SERVER_ROOT_URL", "")),
            graf["env"]["GF_SERVER_ROOT_URL"]),
        Row("Loki", "retention", str(local.loki.get("limits_config", {}).get("retention_period")),
            str(loki["loki"]["limits_config"]["retention_period"])),
        Row("Loki", "storage", "docker volume loki-data",
            f"{loki['singleBinary']['persistence']['storageClass']} {loki['singleBinary']['persistence']['size']}"),
        Row("Loki", "resources", _compose_limits(local.limits("loki")), _resources(loki["singleBinary"]["resources"])),
        Row("Promtail", "resources", _compose_limits(local.limits("promtail")), _resources(promtail["resources"])),
        Row("Jaeger", "resources", _compose_limits(local.limits("jaeger")), _resources(jaeger["jaeger"]["resources"])),
    ]
    localize = Localizer.for_profile(project, profile)
    for local_base, remote_base in localize.swaps:
        out.append(Row("links", "address", local_base, remote_base))
    return out


def unchanged(project: Project) -> str:
    """What promotion carries over as it is (said under the table so nobody has to wonder)."""
    return (f"Unchanged: {len(rules.rule_files(project))} rule files (groups, expressions, for, labels), "
            f"{len(dashboards.files(project))} dashboards, the routing tree, inhibitions and templates, "
            "scrape and evaluation intervals, and every image tag (compose/.env).")
