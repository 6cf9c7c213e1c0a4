"""Environment profiles (profiles/<env>.yaml): what a cluster environment changes from local.

A profile may `extends:` another; its keys are merged over the parent's, map by map. Every
field the renderer reads is checked here, so a wrong profile fails before anything is rendered.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rvlocal.errors import RvlocalError
from rvlocal.project import Project

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|k|M|G|T)?$")
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")  # Prometheus' retention.size units
URL = re.compile(r"^https?://[^\s/]+")
CHARTS = ("kube-prometheus-stack", "loki", "promtail", "jaeger")
URLS = ("grafana", "prometheus", "alertmanager", "jaeger", "runbooks")
CLUSTER_URLS = ("prometheus", "loki", "jaeger")
COMPONENTS_WITH_RESOURCES = ("prometheus", "alertmanager", "grafana", "loki", "promtail", "jaeger")
REPLICATED = ("prometheus", "alertmanager", "grafana")


def profiles_dir(project: Project) -> Path:
    return project.root / "profiles"


def available(project: Project) -> list[str]:
    return sorted(p.stem for p in profiles_dir(project).glob("*.yaml"))


@dataclass(frozen=True)
class Profile:
    name: str
    paths: tuple[Path, ...]  # the profile's file, then those it extends
    data: dict

    def __getitem__(self, key: str):
        return self.data[key]

    def get(self, key: str, default=None):
        return self.data.get(key, default)

    @property
    def source(self) -> str:
        return ", ".join(f"profiles/{p.name}" for p in self.paths)


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read(project: Project, env: str, seen: tuple[str, ...] = ()) -> tuple[list[Path], dict]:
    """The profile's files (itself first, then what it extends) and its merged settings."""
    path = profiles_dir(project) / f"{env}.yaml"
    if not path.is_file():
        raise RvlocalError(f"no profile {env!r} ({path} does not exist)",
                           f"Choose one of: {', '.join(available(project)) or 'none yet'}; "
                           "or add profiles/<env>.yaml.")
    if env in seen:
        raise RvlocalError(f"profiles extend each other in a loop: {' -> '.join((*seen, env))}",
                           "Remove one of the `extends:` keys.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise RvlocalError(f"{path} is not valid YAML: {exc}", "Fix the YAML syntax.") from None
    if not isinstance(data, dict):
        raise RvlocalError(f"{path} must be a map of settings", "See profiles/production.yaml.")
    parent = data.pop("extends", None)
    if parent is None:
        return [path], data
    chain, base = _read(project, str(parent), (*seen, env))
    return [path, *chain], _merge(base, data)


def load(project: Project, env: str) -> Profile:
    chain, data = _read(project, env)
    problems = validate(data)
    if problems:
        raise RvlocalError(f"profile {env} ({chain[0]}) is not usable:\n  " + "\n  ".join(problems),
                           "Fix these keys; profiles/production.yaml shows every one.")
    return Profile(env, tuple(chain), data)


def schema_versions() -> set[str]:
    """Kubernetes minor versions whose schemas kubernetes-validate ships."""
    from kubernetes_validate import utils
    return {utils.major_minor(v) for v in utils.all_versions()}


def _minor(version: str) -> int:
    return int(version.split(".")[1])


def _at(data: dict, dotted: str):
    node = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def validate(data: dict) -> list[str]:
    """Every problem with a (merged) profile, each naming the key and what it must be."""
    problems: list[str] = []

    def need(key: str, pattern: re.Pattern | None, what: str) -> None:
        value = _at(data, key)
        if value is None:
            problems.append(f"`{key}` is missing ({what})")
        elif pattern is not None and not pattern.match(str(value)):
            problems.append(f"`{key}` is {value!r}; it must be {what}")

    need("environment", DNS_LABEL, "a lower-case name such as production")
    need("namespace", DNS_LABEL, "a Kubernetes namespace name")
    need("release", DNS_LABEL, "the kube-prometheus-stack Helm release name, e.g. kube-prometheus-stack")
    need("kubernetes_version", re.compile(r"^1\.\d+$"), 'a Kubernetes minor version such as "1.33"')
    version = str(data.get("kubernetes_version", ""))
    if re.match(r"^1\.\d+$", version) and version not in schema_versions():
        problems.append(f"`kubernetes_version` {version} has no schemas in kubernetes-validate "
                        f"(it has {min(schema_versions(), key=_minor)} to {max(schema_versions(), key=_minor)})")
    for chart in CHARTS:
        need(f"charts.{chart}.repo", URL, "the chart repository URL")
        need(f"charts.{chart}.version", re.compile(r"^\d+\.\d+\.\d+"), "a pinned chart version")
    for name in URLS:
        need(f"urls.{name}", URL, "an http(s) URL")
    for name in CLUSTER_URLS:
        need(f"cluster_urls.{name}", URL, "the in-cluster http URL of the service")
    need("backend.namespace", DNS_LABEL, "the backend's namespace")
    need("backend.port", re.compile(r"^[a-z0-9-]+$"), "the name of the backend Service's metrics port")
    if not isinstance(_at(data, "backend.service_labels"), dict) or not _at(data, "backend.service_labels"):
        problems.append("`backend.service_labels` must be a map of the backend Service's labels")
    need("secrets.receivers", DNS_LABEL, "the name of the Secret holding the receivers' URLs and keys")
    need("secrets.grafana_admin", DNS_LABEL, "the name of the Secret holding Grafana's admin user and password")
    need("prometheus.retention", DURATION, "a Prometheus duration such as 30d")
    need("prometheus.retentionSize", SIZE, "a size such as 50GB")
    need("loki.retention", DURATION, "a duration such as 744h")
    for component in REPLICATED:
        value = _at(data, f"{component}.replicas")
        if not isinstance(value, int) or value < 1:
            problems.append(f"`{component}.replicas` is {value!r}; it must be a whole number ≥ 1")
    for component in COMPONENTS_WITH_RESOURCES:
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                need(f"{component}.resources.{kind}.{resource}", QUANTITY, "a Kubernetes quantity such as 500m or 1Gi")
    for component in ("prometheus", "alertmanager", "loki"):
        need(f"{component}.storage.storageClassName", DNS_LABEL, "a StorageClass name")
        need(f"{component}.storage.size", QUANTITY, "a volume size such as 100Gi")
    return problems
