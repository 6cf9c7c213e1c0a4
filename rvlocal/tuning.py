"""Alert backtesting: replay Prometheus' alert state machine over metric history for a grid of
thresholds × `for` durations, and score each candidate against known incidents.

Prometheus evaluates a rule every `interval`; an alert whose condition holds becomes pending
with activeAt = that evaluation, fires at the first evaluation where now − activeAt ≥ `for`,
and is dropped (pending) or resolved (firing) at the first evaluation where the condition fails;
with keep_firing_for it keeps firing until the condition has failed for that long. A missing
sample (NaN) fails the condition. The engine works on whole arrays: one boolean matrix
(thresholds × evaluations) per `for` value.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

import numpy as np

OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne}


@dataclass(frozen=True)
class Incident:
    start: float  # unix seconds
    end: float
    kind: str = ""


def condition(values: np.ndarray, threshold: float, op: str) -> np.ndarray:
    """Per evaluation: does the condition hold? NaN (no sample) never does."""
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return OPS[op](v, threshold) & ~np.isnan(v)


def runs(cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of true evaluations as (start index, end index exclusive)."""
    padded = np.zeros(len(cond) + 2, dtype=bool)
    padded[1:-1] = cond
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges[::2], edges[1::2]


def episodes(starts: np.ndarray, ends: np.ndarray, interval: float, for_s: float,
             keep_firing_for_s: float = 0.0, steps: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Firing episodes (first firing evaluation, first evaluation not firing) from the runs of
    a condition. A run of L evaluations fires from its (for/interval)-th evaluation on, when
    L − 1 ≥ ceil(for / interval). With keep_firing_for, a firing alert stays firing for
    ceil(keep / interval) evaluations after its condition fails, and a run starting by then
    continues the same alert (already firing, whatever its length)."""
    for_steps = math.ceil(for_s / interval - 1e-9) if for_s > 0 else 0
    long_enough = (ends - starts - 1) >= for_steps
    if keep_firing_for_s <= 0:
        return starts[long_enough] + for_steps, ends[long_enough]
    keep_steps = math.ceil(keep_firing_for_s / interval - 1e-9)
    limit = steps if steps is not None else (int(ends[-1]) + keep_steps if len(ends) else 0)
    out_s, out_e = [], []
    current = None  # [first firing index, end of the last run in the episode]
    for s, e, ok in zip(starts.tolist(), ends.tolist(), long_enough.tolist()):
        if current is not None and s <= current[1] + keep_steps:
            current[1] = e
            continue
        if current is not None:
            out_s.append(current[0])
            out_e.append(min(current[1] + keep_steps, limit))
            current = None
        if ok:
            current = [s + for_steps, e]
    if current is not None:
        out_s.append(current[0])
        out_e.append(min(current[1] + keep_steps, limit))
    return np.asarray(out_s, dtype=int), np.asarray(out_e, dtype=int)


def firing_mask(values: np.ndarray, threshold: float, op: str, interval: float, for_s: float,
                keep_firing_for_s: float = 0.0) -> np.ndarray:
    """Per evaluation: is the alert firing?"""
    cond = condition(values, threshold, op)
    fs, fe = episodes(*runs(cond), interval, for_s, keep_firing_for_s, steps=len(cond))
    mask = np.zeros(len(cond), dtype=bool)
    for a, b in zip(fs, fe):
        mask[a:b] = True
    return mask


@dataclass
class Score:
    threshold: float
    for_s: float
    keep_firing_for_s: float
    episodes: int
    pages_per_week: float
    time_firing: float  # share of evaluations
    precision: float
    recall: float
    ttd_median_s: float
    ttd_p90_s: float
    flaps: int
    detected: list[bool] = field(default_factory=list, repr=False)


def score(fs: np.ndarray, fe: np.ndarray, times: np.ndarray, interval: float, incidents: list[Incident],
          threshold: float, for_s: float, keep_s: float = 0.0, grace_s: float = 600.0,
          flap_window_s: float = 900.0) -> Score:
    """Score one candidate's episodes. An episode is a true positive when it overlaps an
    incident window (the incident extended by `grace_s`, for lagging windows); an incident is
    detected when an episode overlaps its window, and time to detect runs from the incident's
    start to the first firing evaluation in it. A flap is an episode starting within
    `flap_window_s` of the previous one's end."""
    steps = len(times)
    weeks = max(steps * interval / (7 * 86400), 1e-9)
    lo = np.searchsorted(times, [i.start for i in incidents])
    hi = np.searchsorted(times, [i.end + grace_s for i in incidents], side="right")
    overlap = (fs[:, None] < hi[None, :]) & (fe[:, None] > lo[None, :])  # episodes × incidents
    detected = overlap.any(axis=0)
    ttd = []
    for j in np.flatnonzero(detected):
        first = np.maximum(fs[overlap[:, j]], lo[j]).min()
        ttd.append(times[first] - incidents[j].start)
    n = len(fs)
    flaps = int(((fs[1:] - fe[:-1]) * interval <= flap_window_s).sum()) if n > 1 else 0
    return Score(
        threshold=float(threshold), for_s=for_s, keep_firing_for_s=keep_s, episodes=n,
        pages_per_week=n / weeks, time_firing=float((fe - fs).sum() / steps) if steps else 0.0,
        precision=float(overlap.any(axis=1).mean()) if n else float("nan"),
        recall=float(detected.mean()) if incidents else float("nan"),
        ttd_median_s=float(np.median(ttd)) if ttd else float("nan"),
        ttd_p90_s=float(np.percentile(ttd, 90)) if ttd else float("nan"),
        flaps=flaps, detected=detected.tolist())


def sweep(values: np.ndarray, times: np.ndarray, interval: float, op: str, thresholds,
          for_values, incidents: list[Incident], keep_values=(0.0,)) -> list[Score]:
    """Every threshold × for × keep_firing_for candidate for one series: the condition's runs
    are found once per threshold; `for` and keep_firing_for only reshape those runs."""
    out = []
    for threshold in thresholds:
        cond = condition(values, threshold, op)
        starts, ends = runs(cond)
        for for_s in for_values:
            for keep_s in keep_values:
                fs, fe = episodes(starts, ends, interval, for_s, keep_s, steps=len(cond))
                out.append(score(fs, fe, times, interval, incidents, threshold, for_s, keep_s))
    return out


def rank(scores: list[Score]) -> list[Score]:
    """Best first: recall, then precision, then fewer pages, then faster detection."""
    def key(s: Score):
        def low_nan(x: float) -> float:
            return -1.0 if math.isnan(x) else x
        return (-low_nan(s.recall), -low_nan(s.precision), s.pages_per_week,
                s.ttd_median_s if not math.isnan(s.ttd_median_s) else float("inf"))
    return sorted(scores, key=key)


# --- history from Prometheus ----------------------------------------------------------------

MAX_POINTS = 11_000  # Prometheus refuses range queries with more points per series


def fetch(prom, query: str, start: float, end: float, step: float,
          progress=lambda done, total: None, workers: int = 4) -> tuple[np.ndarray, dict[tuple, np.ndarray]]:
    """Values of `query` at start, start+step, … end, per label set (NaN where absent),
    fetched in chunks under Prometheus' points-per-query limit, a few chunks at a time."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import datetime

    times = np.arange(start, end + step / 2, step)
    chunk = (MAX_POINTS - 1) * step
    edges = list(np.arange(start, end + step / 2, chunk + step))

    def one(lo: float) -> list[dict]:
        return prom.custom_query_range(query, start_time=datetime.fromtimestamp(lo),
                                       end_time=datetime.fromtimestamp(min(lo + chunk, end)), step=f"{step:g}s")

    out: dict[tuple, np.ndarray] = {}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for n, result in enumerate(pool.map(one, edges)):
            for s in result:
                key = tuple(sorted(s["metric"].items()))
                row = out.setdefault(key, np.full(len(times), np.nan))
                ts = np.array([float(t) for t, _ in s["values"]])
                idx = np.rint((ts - start) / step).astype(int)
                row[idx] = [float(v) for _, v in s["values"]]
            progress(n + 1, len(edges))
    return times, out


def sweep_series(times: np.ndarray, series: dict[tuple, np.ndarray], interval: float, op: str, thresholds,
                 for_values, incidents: list[Incident], keep_values=(0.0,)) -> list[Score]:
    """One score per candidate over all label sets: episodes and pages add up, an incident is
    detected when any label set's alert catches it."""
    per_series = [sweep(v, times, interval, op, thresholds, for_values, incidents, keep_values) for v in series.values()]
    if not per_series:
        return []
    merged = []
    for candidates in zip(*per_series):
        first = candidates[0]
        episodes_ = sum(c.episodes for c in candidates)
        detected = [any(c.detected[j] for c in candidates) for j in range(len(incidents))]
        true_eps = sum(c.precision * c.episodes for c in candidates if c.episodes)
        ttds = [c.ttd_median_s for c in candidates if not math.isnan(c.ttd_median_s)]
        merged.append(Score(first.threshold, first.for_s, first.keep_firing_for_s, episodes_,
                            sum(c.pages_per_week for c in candidates),
                            float(np.mean([c.time_firing for c in candidates])),
                            true_eps / episodes_ if episodes_ else float("nan"),
                            float(np.mean(detected)) if incidents else float("nan"),
                            min(ttds) if ttds else float("nan"),
                            max((c.ttd_p90_s for c in candidates if not math.isnan(c.ttd_p90_s)), default=float("nan")),
                            sum(c.flaps for c in candidates), detected))
    return merged


@dataclass
class Backtest:
    alert: str
    severity: str
    op: str
    current_threshold: float
    current_for_s: float
    interval: float
    series: int
    incidents: list[Incident]
    ranked: list[Score]

    @property
    def current(self) -> Score | None:
        return next((s for s in self.ranked if math.isclose(s.threshold, self.current_threshold)
                     and math.isclose(s.for_s, self.current_for_s) and s.keep_firing_for_s == 0), None)


def backtest_alert(project, prom, name: str, severity: str | None, start: float, end: float,
                   thresholds=None, for_values=None, keep_values=(0.0,), incidents: list[Incident] | None = None,
                   progress=lambda done, total: None) -> Backtest:
    """Fetch the alert's compared expression over the range at its evaluation interval and sweep
    thresholds × for (× keep_firing_for); the current threshold and `for` are always included."""
    from rvlocal import rules
    from rvlocal.durations import parse_duration

    alert = rules.find_alert(project, name, severity)
    threshold = rules.split_threshold(str(alert.rule["expr"]))
    interval = rules.evaluation_interval(project, alert)
    current_for = parse_duration(str(alert.rule["for"])) if alert.rule.get("for") else 0.0
    if thresholds is None:
        base = threshold.value or 1.0
        thresholds = np.unique(np.round(np.linspace(base * 0.2, base * 3, 57), 10))
    thresholds = np.unique(np.append(np.asarray(thresholds, dtype=float), threshold.value))
    for_values = sorted(set(for_values if for_values is not None else [0, 60, 120, 300, 600, 900]) | {current_for})
    times, series = fetch(prom, threshold.query(), start, end, interval, progress)
    if not series:
        from rvlocal.errors import RvlocalError
        raise RvlocalError(f"{threshold.query()!r} has no data between those times",
                           "Load history first (rvlocal history synth), or choose another --range.")
    scores = sweep_series(times, series, interval, threshold.op, thresholds, for_values, incidents or [], keep_values)
    sev = alert.rule.get("labels", {}).get("severity", "")
    return Backtest(name, sev, threshold.op, threshold.value, current_for, interval, len(series),
                    incidents or [], rank(scores))


def table_rows(scores: list[Score]) -> list[dict]:
    """Scores as plain rows (what the notebooks show and the tests compare)."""
    def num(x: float):
        return None if isinstance(x, float) and math.isnan(x) else round(x, 6)
    return [{"threshold": num(s.threshold), "for_s": s.for_s, "keep_firing_for_s": s.keep_firing_for_s,
             "episodes": s.episodes, "pages_per_week": num(s.pages_per_week), "precision": num(s.precision),
             "recall": num(s.recall), "ttd_median_s": num(s.ttd_median_s), "flaps": s.flaps} for s in scores]


def grid(scores: list[Score], metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, for values, matrix[for, threshold]) of one metric, for heat maps."""
    thresholds = np.array(sorted({s.threshold for s in scores}))
    fors = np.array(sorted({s.for_s for s in scores}))
    matrix = np.full((len(fors), len(thresholds)), np.nan)
    for s in scores:
        if s.keep_firing_for_s == 0:
            matrix[np.searchsorted(fors, s.for_s), np.searchsorted(thresholds, s.threshold)] = getattr(s, metric)
    return thresholds, fors, matrix
