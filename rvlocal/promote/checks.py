"""Pre-promotion checks: what clusters break silently, caught before anything leaves the laptop.

Each check takes a Bundle (what `promote` is about to write, or what a folder holds) and
returns Findings that name the file, the object, the problem and what to do.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pydantic
from python_on_whales import DockerClient

from rvlocal import checks as local_checks
from rvlocal import dashboards, rules, state, yamlout
from rvlocal.backend.metrics import HISTOGRAM_BUCKETS
from rvlocal.dashboards import CONFIGMAP_LIMIT
from rvlocal.errors import RvlocalError
from rvlocal.project import Project
from rvlocal.promote.bundle import Bundle, File, object_name
from rvlocal.promote.helm_values import SECRETS_DIR, TEMPLATES_DIR, secret_keys
from rvlocal.promote.localize import Localizer, local_urls
from rvlocal.promote.manifests import GRAFANA_PODS, PROMETHEUS_PODS, SOURCE_ANNOTATION
from rvlocal.promote.profile import Profile
from rvlocal.promote.tree import leaves

OPERATOR_GROUP = "monitoring.coreos.com"
# Fields of Alertmanager receivers (and Grafana settings) that hold a credential when literal.
SECRET_KEYS = {"api_key", "routing_key", "service_key", "password", "api_url", "bearer_token", "token",
               "secret", "webhook_url", "auth_password", "client_secret", "auth_token"}
SECRET_ENV = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY)$")
SECRET_PATTERNS = {
    "a Slack webhook URL": re.compile(r"hooks\.slack\.com/services/\S+"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
BUCKET_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\s*\{([^}]*)\}")
LE_MATCHER = re.compile(r"\ble\s*=\s*\"([^\"]*)\"")


@dataclass(frozen=True)
class Finding:
    check: str
    file: str
    obj: str
    problem: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.obj}" if self.obj else self.file
        return f"{where}: {self.problem}\n    → {self.fix}"


# --- schemas ----------------------------------------------------------------------------------

def _operator_model(doc: dict):
    """The operator kind's model (generated from its CRD), or None. Imported here: the models
    take seconds to import, which no other command should pay."""
    group, _, version = str(doc.get("apiVersion", "")).partition("/")
    if group != OPERATOR_GROUP or version not in ("v1", "v1alpha1"):
        return None
    module = importlib.import_module(f"cloudcoil.models.prometheus_operator.{version}")
    return getattr(module, str(doc.get("kind")), None)


def _unknown_fields(given, kept, path: str = "") -> list[str]:
    """Paths present in `given` but dropped by the model: fields the CRD does not define, which
    the API server prunes without a word."""
    if isinstance(given, dict) and isinstance(kept, dict):
        out = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else key
            out += [where] if key not in kept else _unknown_fields(value, kept[key], where)
        return out
    if isinstance(given, list) and isinstance(kept, list):
        return [p for i, (g, k) in enumerate(zip(given, kept)) for p in _unknown_fields(g, k, f"{path}[{i}]")]
    return []


def schemas(bundle: Bundle, kubernetes_version: str) -> list[Finding]:
    """Core kinds against Kubernetes' schemas (kubernetes-validate, strict); the operator's kinds
    against models generated from its CRDs (cloudcoil-models-prometheus-operator)."""
    import kubernetes_validate  # seconds to import: only when checking
    found = []
    for f, doc in bundle.manifests():
        name = object_name(doc)
        model = _operator_model(doc)
        if model is not None:
            try:
                kept = model.model_validate(doc).model_dump(by_alias=True, exclude_unset=True, mode="json")
            except pydantic.ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"])
                    found.append(Finding("schema", f.path, name, f"{where}: {err['msg']}",
                                         f"Fix the source ({', '.join(f.sources)}) so the operator's {doc['kind']} schema accepts it."))
                continue
            for where in _unknown_fields(doc, kept):
                found.append(Finding("schema", f.path, name, f"{where} is not a field of {doc['kind']}; "
                                     "the API server would drop it silently",
                                     "Remove or rename it (see the operator's API reference)."))
            continue
        if str(doc.get("apiVersion", "")).startswith(OPERATOR_GROUP):
            found.append(Finding("schema", f.path, name, f"{doc.get('apiVersion')} {doc.get('kind')} is not a kind "
                                 "the Prometheus operator defines", "Use a kind of monitoring.coreos.com/v1."))
            continue
        try:
            kubernetes_validate.validate(doc, kubernetes_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            found.append(Finding("schema", f.path, name, f"no Kubernetes {kubernetes_version} schema for "
                                 f"{doc.get('apiVersion')} {doc.get('kind')}", "Use a kind the cluster serves."))
        except kubernetes_validate.ValidationError as exc:
            where = ".".join(str(p) for p in exc.absolute_path) or "(object)"
            found.append(Finding("schema", f.path, name, f"{where}: {exc.message}",
                                 f"Fix the source ({', '.join(f.sources)}) to match Kubernetes {kubernetes_version}."))
    return found


# --- selectors --------------------------------------------------------------------------------

def _kps_values(bundle: Bundle) -> dict:
    try:
        return bundle.file("values/kube-prometheus-stack.yaml").documents[0]
    except (KeyError, IndexError):
        return {}


def effective_selector(values: dict, kind: str, release: str) -> dict[str, str] | None:
    """The labels kube-prometheus-stack's Prometheus selects objects of `kind` by (None: all)."""
    spec = (values.get("prometheus") or {}).get("prometheusSpec") or {}
    key = {"PrometheusRule": "rule", "ServiceMonitor": "serviceMonitor"}[kind]
    explicit = spec.get(f"{key}Selector")
    if explicit:
        return dict(explicit.get("matchLabels") or {})
    if spec.get(f"{key}SelectorNilUsesHelmValues", True):
        return {"release": release}
    return None


def selectors(bundle: Bundle, profile: Profile) -> list[Finding]:
    """Every PrometheusRule and ServiceMonitor carries the labels the release's Prometheus selects,
    in the namespace it watches; the kustomization installs that release."""
    found = []
    values = _kps_values(bundle)
    for f, doc in bundle.manifests():
        kind = doc.get("kind")
        if kind not in ("PrometheusRule", "ServiceMonitor"):
            continue
        wanted = effective_selector(values, kind, profile["release"]) or {}
        meta = doc.get("metadata") or {}
        labels = meta.get("labels") or {}
        missing = {k: v for k, v in wanted.items() if labels.get(k) != v}
        if missing:
            shown = ", ".join(f"{k}={v}" for k, v in missing.items())
            found.append(Finding("selectors", f.path, object_name(doc),
                                 f"lacks the label {shown} that release {profile['release']}'s Prometheus selects "
                                 f"{kind}s by: the operator would ignore it",
                                 f"Add metadata.labels {shown} (rvlocal promote --env {profile.name} renders it from the profile's `release`)."))
        if meta.get("namespace") != profile["namespace"]:
            found.append(Finding("selectors", f.path, object_name(doc),
                                 f"is in namespace {meta.get('namespace')!r}; the release's Prometheus watches {profile['namespace']!r}",
                                 f"Set metadata.namespace: {profile['namespace']}."))
    try:
        kust = bundle.file("kustomization.yaml").documents[0]
        releases = {c.get("name"): c.get("releaseName") for c in kust.get("helmCharts", [])}
        if releases.get("kube-prometheus-stack") != profile["release"]:
            found.append(Finding("selectors", "kustomization.yaml", "helmCharts/kube-prometheus-stack",
                                 f"installs release {releases.get('kube-prometheus-stack')!r}, but objects are labelled "
                                 f"for {profile['release']!r}", f"Render again: rvlocal promote --env {profile.name}."))
        listed = set(kust.get("resources", [])) | {c.get("valuesFile") for c in kust.get("helmCharts", [])}
        for f in bundle.files:
            if f.path != "kustomization.yaml" and f.path not in listed:
                found.append(Finding("selectors", "kustomization.yaml", "resources",
                                     f"{f.path} is not listed: kustomize would not apply it",
                                     f"Render again: rvlocal promote --env {profile.name}."))
    except (KeyError, IndexError):
        found.append(Finding("selectors", "kustomization.yaml", "", "missing",
                             f"Render again: rvlocal promote --env {profile.name}."))
    return found


# --- sizes ------------------------------------------------------------------------------------

def configmap_sizes(bundle: Bundle) -> list[Finding]:
    """kubectl apply keeps the whole object in its last-applied-configuration annotation, and
    annotations are limited to 262,144 bytes."""
    found = []
    for f, doc in bundle.manifests():
        if doc.get("kind") != "ConfigMap":
            continue
        size = len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
        if size >= CONFIGMAP_LIMIT:
            source = ", ".join(s for s in f.sources if not s.startswith("profiles/"))
            found.append(Finding("size", f.path, object_name(doc),
                                 f"is {size:,} bytes; kubectl apply's last-applied annotation holds at most "
                                 f"{CONFIGMAP_LIMIT:,} bytes, so the apply would fail",
                                 f"Shrink {source} below {CONFIGMAP_LIMIT:,} bytes (split it into two dashboards, "
                                 "drop unused panels), or apply with --server-side."))
    return found


# --- what rules and panels read ---------------------------------------------------------------

def _rules(bundle: Bundle):
    for f, doc in bundle.manifests():
        if doc.get("kind") == "PrometheusRule":
            for group in (doc.get("spec") or {}).get("groups", []):
                for rule in group.get("rules", []):
                    yield f, doc, rule


def _dashboards(bundle: Bundle):
    """(file, ConfigMap, dashboard JSON text) of every dashboard ConfigMap."""
    for f, doc in bundle.manifests():
        if doc.get("kind") == "ConfigMap" and ((doc.get("metadata") or {}).get("labels") or {}).get("grafana_dashboard") == "1":
            for key, text in (doc.get("data") or {}).items():
                yield f, doc, key, text


def _panel_queries(bundle: Bundle):
    for f, doc, key, text in _dashboards(bundle):
        try:
            board = dashboards.parse(text, Path(key))
        except ValueError:
            continue
        for panel in board.panels:
            for target in panel.targets:
                if target.datasource == "prometheus" and target.expr:
                    yield f, doc, panel, target


def _rule_name(rule: dict) -> str:
    return rule.get("alert") or rule.get("record") or "?"


def bucket_boundaries(bundle: Bundle, histograms: dict[str, tuple[float, ...]] | None = None) -> list[Finding]:
    """Every `le` a query selects, and every latency threshold compared with a histogram_quantile,
    is a bucket boundary of that histogram: otherwise the SLI interpolates, or matches nothing."""
    histograms = HISTOGRAM_BUCKETS if histograms is None else histograms
    fix = ("Make it a bucket boundary: add it to the histogram's buckets in rvlocal/backend/metrics.py "
           "(and in the production service), or move the threshold to an existing boundary.")

    def check(expr: str, f: File, obj: str, what: str) -> list[Finding]:
        out = []
        for m in BUCKET_SELECTOR.finditer(expr):
            name, matchers = m.group(1), m.group(2)
            if name not in histograms:
                continue
            for le in LE_MATCHER.findall(matchers):
                if le != "+Inf" and _float(le) not in histograms[name]:
                    out.append(Finding("buckets", f.path, obj, f"{what} selects le=\"{le}\" of {name}, whose buckets are "
                                       f"{', '.join(_g(b) for b in histograms[name])}", fix))
        return out

    found = []
    for f, doc, rule in _rules(bundle):
        obj = f"{object_name(doc)} rule {_rule_name(rule)}"
        expr = str(rule.get("expr", ""))
        found += check(expr, f, obj, "the expression")
        if "alert" in rule and "histogram_quantile" in expr:
            try:
                threshold = rules.split_threshold(expr)
            except RvlocalError:  # no top-level comparison with a number: nothing to check
                continue
            for name in dict.fromkeys(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)_bucket\b", threshold.lhs)):
                if name in histograms and threshold.value not in histograms[name]:
                    found.append(Finding("buckets", f.path, obj, f"compares a quantile of {name} with {_g(threshold.value)}, "
                                         f"which is not one of its buckets ({', '.join(_g(b) for b in histograms[name])})", fix))
    for f, doc, panel, target in _panel_queries(bundle):
        found += check(target.expr, f, f"{object_name(doc)} panel {panel.title!r} query {target.ref}", "the query")
    return found


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _g(value: float) -> str:
    return f"{value:g}"


def metrics_exist(bundle: Bundle, project: Project) -> list[Finding]:
    """Every metric a rule or panel reads is exposed by the backend, recorded by a rule in the
    bundle, made by Prometheus, or exposed by a component of the stack (named one by one)."""
    recorded = {r["record"] for _, _, r in _rules(bundle) if "record" in r}
    known = dashboards.backend_metric_names() | recorded | dashboards.PROMETHEUS_MADE | set(dashboards.COMPONENT_METRICS)
    fix = ("Use a metric the backend exposes (rvlocal/backend/metrics.py) or a recording rule; a meta-monitoring "
           "metric of a stack component goes in dashboards.COMPONENT_METRICS.")
    found = []
    for f, doc, rule in _rules(bundle):
        for name in sorted(dashboards.metric_names(str(rule.get("expr", ""))) - known):
            found.append(Finding("metrics", f.path, f"{object_name(doc)} rule {_rule_name(rule)}",
                                 f"reads {name}, which nothing exposes or records", fix))
    for f, doc, panel, target in _panel_queries(bundle):
        for name in sorted(dashboards.metric_names(dashboards.substitute(target.expr)) - known):
            found.append(Finding("metrics", f.path, f"{object_name(doc)} panel {panel.title!r} query {target.ref}",
                                 f"reads {name}, which nothing exposes or records", fix))
    for f, doc, variable, selector in _variable_queries(bundle):
        for name in sorted(dashboards.metric_names(selector) - known):
            found.append(Finding("metrics", f.path, f"{object_name(doc)} variable ${variable}",
                                 f"reads {name}, which nothing exposes or records: the dropdown, and every "
                                 "panel filtered by it, would be empty", fix))
    return found


def _variable_queries(bundle: Bundle):
    """(file, ConfigMap, variable name, series selector) of each label_values() variable."""
    for f, doc, _key, text in _dashboards(bundle):
        try:
            board = json.loads(text)
        except ValueError:
            continue
        for variable, selector in dashboards.variable_selectors(board):
            yield f, doc, variable, selector


# --- secrets and laptop addresses -------------------------------------------------------------

def local_secret_values(project: Project) -> dict[str, str]:
    """Secret values this machine generated (.rvlocal/): none may appear in the output."""
    files = [state.grafana_password_file(project), state.admin_token_file(project),
             *sorted(state.alertmanager_secrets_dir(project).glob("*"))]
    values = {}
    for path in files:
        if path.is_file():
            value = path.read_text(encoding="utf-8").strip()
            if len(value) >= 8:
                values[value] = str(path.relative_to(project.root))
    return values


def secrets(bundle: Bundle, project: Project) -> list[Finding]:
    """No Secret value anywhere: no generated local secret, no Secret object with data, no literal
    credential field, nothing shaped like a webhook URL or a private key."""
    known = local_secret_values(project)
    fix = "Reference a Kubernetes Secret instead (secrets: in the profile; *_file fields in the Alertmanager config)."
    found = []
    for f in bundle.files:
        text = yamlout.dump_all(f.documents)
        for value, origin in known.items():
            if value in text:
                found.append(Finding("secrets", f.path, "", f"contains the secret value of {origin}", fix))
        for what, pattern in SECRET_PATTERNS.items():
            if pattern.search(text):
                found.append(Finding("secrets", f.path, "", f"contains {what}", fix))
        for doc in f.documents:
            if doc.get("kind") == "Secret" and (doc.get("data") or doc.get("stringData")):
                found.append(Finding("secrets", f.path, object_name(doc), "is a Secret with its values", fix))
            for where, value in leaves(doc):
                key = re.split(r"[.\[]", where)[-1]
                literal = isinstance(value, str) and value and "{{" not in value
                if literal and (key in SECRET_KEYS or SECRET_ENV.search(key)) and not key.endswith("_file"):
                    found.append(Finding("secrets", f.path, object_name(doc) if "kind" in doc else "",
                                         f"{where} holds a literal credential", fix))
    return found


def laptop_urls(bundle: Bundle) -> list[Finding]:
    found = []
    for f in bundle.files:
        for doc in f.documents:
            for url in dict.fromkeys(local_urls(doc)):
                found.append(Finding("urls", f.path, object_name(doc) if "kind" in doc else "",
                                     f"links to {url}, which only exists on a laptop",
                                     "Give the profile's urls:/cluster_urls: a value for it (rvlocal/promote/localize.py maps local bases)."))
    return found


def network_policy(bundle: Bundle) -> list[Finding]:
    """Production's rule holds: Prometheus' pods admit only Grafana's, on 9090."""
    for f, doc in bundle.manifests():
        if doc.get("kind") != "NetworkPolicy":
            continue
        spec = doc.get("spec") or {}
        if (spec.get("podSelector") or {}).get("matchLabels") != PROMETHEUS_PODS:
            continue
        peers = [p for rule in spec.get("ingress", []) for p in rule.get("from", [])]
        ports = [p.get("port") for rule in spec.get("ingress", []) for p in rule.get("ports", [])]
        if peers == [{"podSelector": {"matchLabels": GRAFANA_PODS}}] and ports == [9090]:
            return []
        return [Finding("network", f.path, object_name(doc), "admits more than Grafana on 9090 (or not Grafana)",
                        "Render again; production's policy is Grafana → Prometheus:9090 only.")]
    return [Finding("network", "networkpolicy-prometheus.yaml", "", "no NetworkPolicy guards Prometheus",
                    "Render again: rvlocal promote writes it.")]


def advisories(bundle: Bundle, profile: Profile) -> list[str]:
    """What production's NetworkPolicy blocks that the sources rely on: said, not failed, because
    the policy is production's decision."""
    prometheus = str(profile["cluster_urls"]["prometheus"]).rstrip("/")
    notes = []
    for f in bundle.files:
        if f.path == "values/jaeger.yaml" and prometheus in yamlout.dump_all(f.documents):
            notes.append("Jaeger's Monitor tab reads spanmetrics from Prometheus (compose/jaeger/jaeger.yaml), but "
                         "the NetworkPolicy admits only Grafana: it stays empty unless the policy admits Jaeger.")
    notes.append("The NetworkPolicy also stops Prometheus replicas scraping each other on 9090 (kube-prometheus-stack's "
                 "self-monitoring): expect TargetDown for them unless the policy admits Prometheus' own pods.")
    return notes


# --- the servers' own checkers ------------------------------------------------------------------

def _readable_tmp() -> tempfile.TemporaryDirectory:
    tmp = tempfile.TemporaryDirectory(prefix="rvlocal-promote-")
    os.chmod(tmp.name, 0o755)  # the checkers run as nobody inside their image
    return tmp


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o755)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)


def promtool(bundle: Bundle, project: Project, profile: Profile, docker: DockerClient, image: str) -> list[Finding]:
    """The rule groups inside the PrometheusRules, laid out as the files they came from, pass
    `promtool check rules` and the repository's unit tests (URLs swapped the same way)."""
    localize = Localizer.for_profile(project, profile)
    found = []
    with _readable_tmp() as tmp:
        root = Path(tmp)
        where: dict[str, str] = {}
        for f, doc in bundle.manifests():
            if doc.get("kind") != "PrometheusRule":
                continue
            source = ((doc.get("metadata") or {}).get("annotations") or {}).get(SOURCE_ANNOTATION, "")
            rel = source.removeprefix("alerts/") if source.startswith("alerts/") else f"extra/{doc['metadata']['name']}.rules.yml"
            _write(root / rel, yamlout.dump({"groups": (doc.get("spec") or {}).get("groups", [])}))
            where[rel] = f"{f.path}: {object_name(doc)}"
        for test in sorted((project.root / "alerts" / "tests").glob("*.test.yml")):
            _write(root / "tests" / test.name, localize.text(test.read_text(encoding="utf-8")))
        try:
            local_checks.run_tool(docker, image, "promtool", ["check", "rules", *sorted(where)], [(root, "/rules")],
                                  workdir="/rules")
        except local_checks.ToolFailed as exc:
            culprits = [w for rel, w in where.items() if rel in exc.output] or ["PrometheusRules"]
            found.append(Finding("promtool", culprits[0].split(": ")[0], culprits[0].partition(": ")[2],
                                 "promtool check rules fails:\n      " + exc.output.strip().replace("\n", "\n      "),
                                 "Fix the rule in its source file; rvlocal check runs the same checker."))
            return found
        ok, output = local_checks.promtool_test_dir(docker, image, root)
        if not ok:
            found.append(Finding("promtool", "prometheus-rules/", "unit tests (alerts/tests)",
                                 "the rendered rules fail their promtool tests:\n      " + output.strip().replace("\n", "\n      "),
                                 "Run rvlocal check: if the local rules pass, the URL swap changed an expected "
                                 "annotation; otherwise fix the rule or the test."))
    return found


def amtool(bundle: Bundle, project: Project, profile: Profile, docker: DockerClient, image: str) -> list[Finding]:
    """The Alertmanager config inside the kube-prometheus-stack values, with its templates,
    passes `amtool check-config` and routes every case of compose/alertmanager/routes.test.yaml
    as the local one does."""
    values = _kps_values(bundle).get("alertmanager") or {}
    config, templates = values.get("config"), values.get("templateFiles") or {}
    where = "values/kube-prometheus-stack.yaml"
    if not config:
        return [Finding("amtool", where, "alertmanager.config", "missing", f"Render again: rvlocal promote --env {profile.name}.")]
    secret = profile["secrets"]["receivers"]
    with _readable_tmp() as tmp:
        root = Path(tmp)
        _write(root / "config" / "alertmanager.yml", yamlout.dump(config))
        for name, text in templates.items():
            _write(root / "config" / name, text)
        for key in secret_keys(config, secret):  # the files exist in the pod; values are not ours to know
            _write(root / "secrets" / key, "https://placeholder.invalid/\n")
        volumes = [(root / "config", TEMPLATES_DIR), (root / "secrets", f"{SECRETS_DIR}/{secret}")]
        config_file = f"{TEMPLATES_DIR}/alertmanager.yml"
        try:
            local_checks.run_tool(docker, image, "amtool", ["check-config", config_file], volumes)
        except local_checks.ToolFailed as exc:
            return [Finding("amtool", where, "alertmanager.config", "amtool check-config fails:\n      "
                            + exc.output.strip().replace("\n", "\n      "),
                            "Fix compose/alertmanager/alertmanager.yml (rvlocal check runs the same checker).")]
        routes = local_checks.amtool_routes(project, docker, image, volumes, config_file)
    if not routes.ok:
        return [Finding("amtool", where, "alertmanager.config.route", "routes differently from the local config:\n      "
                        + routes.detail.replace("\n", "\n      "), "The routing tree must be promoted unchanged; render again.")]
    return []


# --- all ------------------------------------------------------------------------------------------

CHECKS = ("schema", "selectors", "size", "buckets", "metrics", "secrets", "urls", "network", "promtool", "amtool")
FOLDER_CHECKS = (*CHECKS, "stale")  # judging a folder also compares it with a fresh rendering


def stale(judged: Bundle, rendered: Bundle) -> list[Finding]:
    """Files of a folder that differ from what the sources render now (hand edits, old renders)."""
    fix = f"Change the sources, not the output; then: rvlocal promote --env {rendered.env} --out DIR"
    have = {f.path: f for f in judged.files}
    found = []
    for f in rendered.files:
        if f.path not in have:
            found.append(Finding("stale", f.path, "", "missing from the folder", fix))
        elif have[f.path].documents != f.documents:
            found.append(Finding("stale", f.path, "", "differs from what the sources render now", fix))
    for path in sorted(set(have) - {f.path for f in rendered.files}):
        found.append(Finding("stale", path, "", "is not rendered from the sources any more", fix))
    return found


def run(bundle: Bundle, project: Project, profile: Profile, docker: DockerClient | None,
        prometheus_image: str | None, alertmanager_image: str | None,
        log: Callable[[str], None] = lambda m: None) -> list[Finding]:
    """Every check; the container checks need Docker and the images, and fail when they are absent
    rather than pass unseen."""
    found = [*schemas(bundle, str(profile["kubernetes_version"])), *selectors(bundle, profile),
             *configmap_sizes(bundle), *bucket_boundaries(bundle), *metrics_exist(bundle, project),
             *secrets(bundle, project), *laptop_urls(bundle), *network_policy(bundle)]
    for name, image, check in (("promtool", prometheus_image, promtool), ("amtool", alertmanager_image, amtool)):
        if docker is None or image is None:
            found.append(Finding(name, "(all)", "", f"{name} could not run: no Docker engine or no image with {name}",
                                 "Start Docker (scripts/bootstrap.sh) and run rvlocal up once, which builds the images."))
            continue
        log(f"{name} on the rendered {'rules' if name == 'promtool' else 'Alertmanager config'} (in {image})")
        found += check(bundle, project, profile, docker, image)
    return merged(found)


def merged(findings: list[Finding]) -> list[Finding]:
    """One finding per problem and file: the same wrong bucket in seven SLI windows is one fix."""
    groups: dict[tuple, list[str]] = {}
    for f in findings:
        groups.setdefault((f.check, f.file, f.problem, f.fix), []).append(f.obj)
    out = []
    for (check, file, problem, fix), objs in groups.items():
        obj = objs[0] if len(objs) == 1 else f"{objs[0]} and {len(objs) - 1} more"
        out.append(Finding(check, file, obj, problem, fix))
    return out
