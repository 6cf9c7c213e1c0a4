"""Metric history on demand: realistic synthetic series for the backend's metrics, with
labelled incidents, written as OpenMetrics and turned into TSDB blocks by promtool inside the
Prometheus image, straight into a Prometheus data volume (Prometheus loads new blocks within a
minute). The incidents are saved as JSON: the ground truth tuning scores against.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from python_on_whales import DockerClient
from python_on_whales.exceptions import DockerException

from rvlocal.backend.metrics import CONFIDENCE_BUCKETS, OCR_BUCKETS, REQUEST_BUCKETS
from rvlocal.errors import RvlocalError, docker_failure

LABELS = 'job="receipt-vault-backend",instance="backend:8000",service="receipt-vault-backend"'
ENDPOINTS = (("POST", "/api/receipts", "202", 0.3), ("GET", "/api/receipts/{receipt_id}", "200", 0.5),
             ("GET", "/api/receipts", "200", 0.2))
# What each kind of incident should make fire (alert:severity), by its size.
KINDS = ("error_burst", "slow_burn", "latency", "ocr_slowdown", "outage")


@dataclass
class Incident:
    kind: str
    start: float
    end: float
    size: float  # error ratio, latency median (s), OCR median (s); 0 for an outage
    expect: list[str] = field(default_factory=list)


def plan_incidents(days: float, seed: int, end: float, kinds: tuple[str, ...] = KINDS, per_week: float = 4.0) -> list[Incident]:
    """Incidents of several kinds and sizes, not overlapping, away from the range's edges."""
    rng = np.random.default_rng(seed)
    start = end - days * 86400
    count = max(len(kinds), int(round(days / 7 * per_week)))
    slots = np.sort(rng.choice(np.arange(2, int(days * 24) - 4), size=count, replace=False))  # hour slots
    out = []
    for i, hour in enumerate(slots):
        kind = kinds[i % len(kinds)]
        t0 = start + hour * 3600 + rng.uniform(0, 1800)
        if kind == "error_burst":
            size, minutes = float(rng.choice([0.08, 0.15, 0.3])), rng.uniform(8, 30)
            expect = ["HighErrorRate:critical", "HighErrorRate:warning"]
        elif kind == "slow_burn":
            size, minutes = float(rng.choice([0.015, 0.025, 0.04])), rng.uniform(60, 150)
            expect = ["HighErrorRate:warning"]
        elif kind == "latency":
            size, minutes = float(rng.choice([0.25, 0.4, 0.8])), rng.uniform(15, 40)
            expect = ["HighLatencyP95:warning"]
        elif kind == "ocr_slowdown":
            size, minutes = float(rng.choice([12.0, 18.0])), rng.uniform(20, 50)
            expect = ["OCRLatencyP90High:warning"]
        else:
            size, minutes = 0.0, rng.uniform(3, 12)
            expect = ["ServiceDown:critical"]
        out.append(Incident(kind, float(t0), float(t0 + minutes * 60), size, expect))
    return out


def _active(times: np.ndarray, incidents: list[Incident], kind: str) -> np.ndarray:
    """Per step, the size of the incident of that kind in force (0 when none)."""
    out = np.zeros(len(times))
    for inc in incidents:
        if inc.kind == kind:
            out[(times >= inc.start) & (times < inc.end)] = inc.size if inc.size else 1.0
    return out


def synth_lines(days: float, seed: int, end: float, incidents: list[Incident], step: float = 60.0,
                base_rps: float = 6.0) -> Iterator[str]:
    """OpenMetrics lines (timestamps in Unix seconds), one series at a time, then # EOF."""
    rng = np.random.default_rng(seed + 1)
    n = int(days * 86400 // step)
    times = end - (n - np.arange(n)) * step
    hours = (times % 86400) / 3600
    weekday = ((times // 86400) + 4) % 7  # 1970-01-01 was a Thursday
    seasonal = (1 + 0.6 * np.sin(2 * np.pi * (hours - 9) / 24)) * np.where(weekday >= 5, 0.6, 1.0)
    rate = np.clip(base_rps * seasonal * rng.lognormal(0, 0.1, n), 0.05, None)
    down = _active(times, incidents, "outage") > 0
    up_values = np.where(down, 0.0, 1.0)
    # after an outage the process restarts: counters begin again at zero
    restart = np.concatenate([[False], down[:-1] & ~down[1:]])
    error_ratio = 0.001 + _active(times, incidents, "error_burst") + _active(times, incidents, "slow_burn")
    latency_median = np.where(_active(times, incidents, "latency") > 0, _active(times, incidents, "latency"), 0.02)
    ocr_median = np.where(_active(times, incidents, "ocr_slowdown") > 0, _active(times, incidents, "ocr_slowdown"), 3.0)

    def cumulative(per_step: np.ndarray) -> np.ndarray:
        out = np.empty_like(per_step, dtype=float)
        total = 0.0
        for i, v in enumerate(per_step):
            total = 0.0 if restart[i] else total
            total += v
            out[i] = total
        return out

    def emit(name: str, labels: str, values: np.ndarray) -> Iterator[str]:
        yield f"# TYPE {name} unknown"
        keep = ~down if name != "up" else np.ones(n, bool)
        prefix = f"{name}{{{labels}}} "
        for t, v in zip(times[keep], values[keep]):
            yield f"{prefix}{v:.6g} {int(t)}"

    yield from emit("up", LABELS, up_values)
    uploads = np.zeros(n)
    for method, endpoint, ok, share in ENDPOINTS:
        requests = rng.poisson(rate * share * step)
        errors = rng.binomial(requests, np.clip(error_ratio, 0, 1))
        if method == "POST":
            uploads = requests - errors
        base = f'{LABELS},method="{method}",endpoint="{endpoint}"'
        yield from emit("receipt_vault_requests_total", f'{base},status="{ok}"', cumulative(requests - errors))
        yield from emit("receipt_vault_requests_total", f'{base},status="500"', cumulative(errors))
        hist = f'{LABELS},method="{method}",endpoint="{endpoint}"'
        yield from _histogram("receipt_vault_request_duration_seconds", hist, requests, latency_median, 0.6,
                              REQUEST_BUCKETS, cumulative, emit)
    failed = rng.binomial(uploads.astype(int), 0.002)
    for user_type, share in (("individual", 0.7), ("business", 0.3)):
        yield from emit("receipt_vault_receipts_processed_total",
                        f'{LABELS},status="processed",user_type="{user_type}"', cumulative((uploads - failed) * share))
        yield from emit("receipt_vault_receipts_processed_total",
                        f'{LABELS},status="failed",user_type="{user_type}"', cumulative(failed * share))
    ocr = f'{LABELS},provider="simulated"'
    yield from _histogram("receipt_vault_ocr_duration_seconds", ocr, uploads, ocr_median, 0.6, OCR_BUCKETS,
                          cumulative, emit)
    yield from _histogram("receipt_vault_ocr_confidence_score", ocr, uploads - failed, np.full(n, 0.92), 0.04,
                          CONFIDENCE_BUCKETS, cumulative, emit)
    yield "# EOF"


def _histogram(name, labels, counts, median, sigma, buckets, cumulative, emit):
    counts = counts.astype(float)
    for b in buckets:
        share = np.array([_cdf(b, m, sigma) for m in median]) if np.ptp(median) else np.full(len(counts), _cdf(b, median[0], sigma))
        yield from emit(f"{name}_bucket", f'{labels},le="{_le(b)}"', cumulative(counts * share))
    yield from emit(f"{name}_bucket", f'{labels},le="+Inf"', cumulative(counts))
    yield from emit(f"{name}_count", labels, cumulative(counts))
    yield from emit(f"{name}_sum", labels, cumulative(counts * median * math.exp(sigma ** 2 / 2)))


def _cdf(bound: float, median: float, sigma: float) -> float:
    return 0.5 * (1 + math.erf((math.log(bound) - math.log(median)) / (sigma * math.sqrt(2))))


def _le(bound: float) -> str:
    """Prometheus 3 normalises le to the shortest float form ("15", "0.2")."""
    return f"{bound:g}"


def write_openmetrics(path: Path, lines: Iterator[str]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as f:
        for line in lines:
            f.write(line + "\n")
            count += 1
    return count


def save_incidents(path: Path, incidents: list[Incident]) -> None:
    path.write_text(json.dumps([asdict(i) for i in incidents], indent=2) + "\n", encoding="utf-8")


def load_incidents(path: Path) -> list[Incident]:
    if not path.exists():
        raise RvlocalError(f"no incidents file at {path}", "Run rvlocal history synth first, or pass --incidents FILE.")
    return [Incident(**i) for i in json.loads(path.read_text(encoding="utf-8"))]


def check_retention(days: float, retention: str = "30d") -> None:
    from rvlocal.durations import parse_duration
    if days * 86400 >= parse_duration(retention):
        raise RvlocalError(f"{days:g} days of history is beyond Prometheus' {retention} retention",
                           "Blocks older than the retention are deleted at start-up; ask for fewer days.")


def backfill(docker: DockerClient, image: str, data_volume: str, openmetrics: Path,
             log: Callable[[str], None] = lambda m: None) -> None:
    """promtool tsdb create-blocks-from openmetrics, run in the Prometheus image with the data
    volume mounted, then handed to Prometheus' user (nobody)."""
    folder = openmetrics.parent
    # Blocks are written to a staging folder (not a block name: Prometheus ignores it), owned by
    # Prometheus' user, then renamed into place one by one: a running Prometheus never sees a
    # half-written or root-owned block.
    script = ("set -e; rm -rf /prometheus/backfill-staging; mkdir /prometheus/backfill-staging; "
              f"promtool tsdb create-blocks-from openmetrics --max-block-duration=24h /input/{openmetrics.name} /prometheus/backfill-staging 2>&1; "
              "chown -R 65534:65534 /prometheus/backfill-staging; "
              "for b in /prometheus/backfill-staging/*; do mv \"$b\" /prometheus/; done; "
              "rmdir /prometheus/backfill-staging")
    log(f"promtool tsdb create-blocks-from openmetrics → volume {data_volume}")
    try:
        docker.container.run(image, ["-c", script], entrypoint="sh", user="0", remove=True, networks=["none"],
                             volumes=[(data_volume, "/prometheus"), (str(folder), "/input", "ro")])
    except DockerException as exc:
        raise docker_failure("backfill with promtool", exc, "Is the stack up (rvlocal up)?") from exc


def backfill_rules(stack, start: float, end: float, log: Callable[[str], None] = lambda m: None,
                   eval_interval: str = "60s") -> None:
    """Recording rules over the backfilled range: `promtool tsdb create-blocks-from rules`,
    querying the stack's own Prometheus over the compose network, writing to the data volume
    through the same staging folder. Rules that read other recording rules (the 30-day SLI)
    see only what exists when they run: promtool's documented limitation."""
    from rvlocal import rules

    files = [p for p in rules.rule_files(stack.project) if any("record" in r for g in rules.load(p)["groups"]
                                                               for r in g.get("rules", []))]
    if not files:
        return
    alerts = stack.project.root / "alerts"
    names = " ".join(f"/rules/{p.relative_to(alerts)}" for p in files)
    script = ("set -e; rm -rf /prometheus/rules-staging; mkdir /prometheus/rules-staging; "
              f"promtool tsdb create-blocks-from rules --start={int(start)} --end={int(end)} "
              f"--url=http://prometheus:9090 --eval-interval={eval_interval} "
              f"--output-dir=/prometheus/rules-staging {names} 2>&1; "
              "chown -R 65534:65534 /prometheus/rules-staging; "
              "for b in /prometheus/rules-staging/*; do [ -d \"$b\" ] && mv \"$b\" /prometheus/; done; "
              "rm -rf /prometheus/rules-staging")
    log(f"promtool tsdb create-blocks-from rules ({len(files)} files, every {eval_interval})")
    image = stack.containers()["prometheus"].config.image
    try:
        stack.docker.container.run(image, ["-c", script], entrypoint="sh", user="0", remove=True,
                                   networks=[f"{stack.name}_default"],
                                   volumes=[(f"{stack.name}_prometheus-data", "/prometheus"), (str(alerts), "/rules", "ro")])
    except DockerException as exc:
        raise docker_failure("backfilling recording rules with promtool", exc) from exc


def history_dir(project, stack_name: str) -> Path:
    return project.state_dir / "history" / stack_name


def synth_into_stack(stack, days: float, seed: int, kinds: tuple[str, ...] = KINDS,
                     log: Callable[[str], None] = lambda m: None, wait_s: float = 180.0,
                     recording_rules: bool = True) -> tuple[Path, list[Incident], int]:
    """Generate `days` of history ending 10 minutes ago, backfill it into the stack's
    Prometheus, and wait until Prometheus answers for it. Returns (incidents file, incidents,
    OpenMetrics lines)."""
    from rvlocal import state

    check_retention(days)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise RvlocalError(f"unknown incident kinds: {', '.join(unknown)}", f"Kinds: {', '.join(KINDS)}.")
    container = stack.containers().get("prometheus")
    if container is None or container.state.status != "running":
        raise RvlocalError(f"stack {stack.name!r} has no running Prometheus", f"Run rvlocal up --project-name {stack.name} first.")
    folder = history_dir(stack.project, stack.name)
    state.ensure_state_dir(stack.project)
    folder.mkdir(parents=True, exist_ok=True)
    for path in (folder.parent, folder):
        path.chmod(0o755)  # promtool runs as root but reads through a bind mount; keep it simple
    end = (time.time() // 60) * 60 - 600
    incidents = plan_incidents(days, seed, end, kinds)
    log(f"generating {days:g} days of history (seed {seed}) with {len(incidents)} incidents")
    om = folder / "history.om"
    lines = write_openmetrics(om, synth_lines(days, seed, end, incidents))
    om.chmod(0o644)
    save_incidents(folder / "incidents.json", incidents)
    image = container.config.image
    backfill(stack.docker, image, f"{stack.name}_prometheus-data", om, log)
    url = f"http://127.0.0.1:{stack.env()['PROMETHEUS_PORT']}/api/v1/query"
    log("waiting for Prometheus to load the new blocks")
    _wait_for(url, "count(up{job='receipt-vault-backend'})", end - days * 86400 + 3600, wait_s, stack.name)
    om.unlink()  # the blocks hold it now
    if recording_rules:
        backfill_rules(stack, end - days * 86400, end, log)
        _wait_for(url, "count(slo:sli_error:ratio_rate5m)", end - days * 86400 / 2, wait_s, stack.name)
    return folder / "incidents.json", incidents, lines


def _wait_for(url: str, query: str, at: float, wait_s: float, stack_name: str) -> None:
    """Until Prometheus answers `query` at time `at` (it loads new blocks about once a minute)."""
    import httpx

    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, params={"query": query, "time": at}, timeout=5).json()["data"]["result"]:
                return
        except (httpx.HTTPError, KeyError, ValueError):
            pass
        time.sleep(3)
    raise RvlocalError(f"Prometheus did not load the backfilled blocks in time ({query} at {at:.0f})",
                       f"Look at rvlocal logs prometheus --project-name {stack_name}.")


# --- import from another Prometheus ---------------------------------------------------------

IMPORT_WINDOW_S = 2 * 3600  # raw samples are read as range vectors of this length


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def import_lines(prom, selectors: list[str], start: float, end: float,
                 progress: Callable[[int, int], None] = lambda done, total: None) -> Iterator[str]:
    """Raw samples of every series the selectors match, as OpenMetrics: each selector is read as
    range vectors (`SELECTOR[2h]` at the end of each window), so samples come back exactly as
    stored, at their own timestamps, without a points-per-query limit."""
    windows = []
    t = start
    while t < end:
        windows.append((t, min(t + IMPORT_WINDOW_S, end)))
        t += IMPORT_WINDOW_S
    series: dict[str, dict[str, dict[float, float]]] = {}
    total = len(windows) * len(selectors)
    done = 0
    for selector in selectors:
        for lo, hi in windows:
            seconds = int(hi - lo)
            if seconds <= 0:
                continue
            result = prom.custom_query(f"{selector}[{seconds}s]", params={"time": hi})
            for s in result:
                labels = dict(s["metric"])
                name = labels.pop("__name__", None)
                if not name:
                    continue
                key = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
                samples = series.setdefault(name, {}).setdefault(key, {})
                for ts, value in s.get("values", []):
                    if lo < float(ts) <= hi or (lo == start and float(ts) == lo):
                        samples[float(ts)] = float(value)
            done += 1
            progress(done, total)
    for name in sorted(series):
        yield f"# TYPE {name} unknown"
        for key, samples in sorted(series[name].items()):
            for ts in sorted(samples):
                yield f"{name}{{{key}}} {samples[ts]!r} {ts:.3f}"
    yield "# EOF"


def import_into_stack(stack, source_url: str, selectors: list[str], days: float,
                      log: Callable[[str], None] = lambda m: None,
                      progress: Callable[[int, int], None] = lambda done, total: None) -> int:
    """Copy `days` of the selected series from another Prometheus into the stack's."""
    from prometheus_api_client import PrometheusConnect

    check_retention(days)
    if not selectors:
        raise RvlocalError("nothing to import", "Give at least one --match SELECTOR, e.g. --match '{job=\"receipt-vault-backend\"}'.")
    container = stack.containers().get("prometheus")
    if container is None or container.state.status != "running":
        raise RvlocalError(f"stack {stack.name!r} has no running Prometheus", f"Run rvlocal up --project-name {stack.name} first.")
    source = PrometheusConnect(url=source_url, disable_ssl=True)
    try:
        source.check_prometheus_connection()
    except Exception as exc:  # noqa: BLE001 — requests' errors, whatever their class
        raise RvlocalError(f"cannot reach the source Prometheus at {source_url}: {exc}", "Check --from.") from None
    folder = history_dir(stack.project, stack.name)
    folder.mkdir(parents=True, exist_ok=True)
    for path in (folder.parent, folder):
        path.chmod(0o755)
    end = time.time()
    om = folder / "import.om"
    log(f"reading {', '.join(selectors)} over {days:g} days from {source_url}")
    lines = write_openmetrics(om, import_lines(source, selectors, end - days * 86400, end, progress))
    om.chmod(0o644)
    if lines <= 1:
        om.unlink()
        raise RvlocalError("the selectors matched no samples in that range", "Check --match and --range.")
    backfill(stack.docker, stack.containers()["prometheus"].config.image, f"{stack.name}_prometheus-data", om, log)
    om.unlink()
    return lines
