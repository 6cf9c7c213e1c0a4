"""The backtesting engine's scoring and speed (its firing semantics are checked against
Prometheus itself in tests/integration/test_tuning_vs_prometheus.py)."""

from __future__ import annotations

import numpy as np

from rvlocal import tuning

STEP = 15.0


def series(*segments: tuple[float, int]) -> np.ndarray:
    return np.concatenate([np.full(n, v) for v, n in segments])


def test_runs_and_for_semantics():
    values = series((0, 4), (1, 3), (0, 2), (1, 10), (0, 5))
    starts, ends = tuning.runs(tuning.condition(values, 0.5, ">"))
    assert starts.tolist() == [4, 9] and ends.tolist() == [7, 19]
    fs, fe = tuning.episodes(starts, ends, STEP, for_s=60)  # 4 evaluations of `for`
    assert fs.tolist() == [13] and fe.tolist() == [19], "the 3-evaluation run never fires"
    fs, fe = tuning.episodes(starts, ends, STEP, for_s=0)
    assert fs.tolist() == [4, 9]


def test_keep_firing_for_bridges_short_gaps():
    values = series((1, 5), (0, 2), (1, 1), (0, 6))
    starts, ends = tuning.runs(tuning.condition(values, 0.5, ">"))
    fs, fe = tuning.episodes(starts, ends, STEP, for_s=0, keep_firing_for_s=30, steps=len(values))
    assert list(zip(fs.tolist(), fe.tolist())) == [(0, 10)], "one page, not two"


def test_nan_fails_the_condition():
    assert tuning.condition(np.array([1.0, np.nan, 1.0]), 0.5, ">").tolist() == [True, False, True]


def test_scores_against_incidents():
    times = np.arange(2000) * STEP
    values = np.zeros(2000)
    values[100:140] = 1.0     # incident 1, caught
    values[900:905] = 1.0     # a false alarm
    incidents = [tuning.Incident(times[100], times[140]), tuning.Incident(times[1500], times[1560])]
    [s] = tuning.sweep(values, times, STEP, ">", [0.5], [0], incidents)
    assert (s.episodes, s.precision, s.recall) == (2, 0.5, 0.5)
    assert s.ttd_median_s == 0 and s.detected == [True, False]
    [slow] = tuning.sweep(values, times, STEP, ">", [0.5], [120], incidents)
    assert (slow.episodes, slow.precision, slow.ttd_median_s) == (1, 1.0, 120.0), "for 2m drops the blip, detects later"


def test_rank_prefers_recall_then_precision_then_fewer_pages():
    make = lambda r, p, w: tuning.Score(0, 0, 0, 1, w, 0, p, r, 0, 0, 0)  # noqa: E731
    ranked = tuning.rank([make(0.5, 1.0, 1), make(1.0, 0.5, 1), make(1.0, 1.0, 3), make(1.0, 1.0, 2)])
    assert [(s.recall, s.precision, s.pages_per_week) for s in ranked] == [
        (1.0, 1.0, 2), (1.0, 1.0, 3), (1.0, 0.5, 1), (0.5, 1.0, 1)]


def test_a_month_sweep_is_fast_relative_to_one_candidate():
    """200 thresholds × 6 `for` values over 30 days at 15 s cost about 200 single-threshold
    passes, not 1,200 (the runs are found once per threshold). Ratio, not wall time."""
    import time
    rng = np.random.default_rng(0)
    steps = 30 * 5760
    values, times = rng.random(steps) * 0.02, np.arange(steps) * STEP
    thresholds = np.linspace(0.001, 0.1, 200)
    t0 = time.perf_counter()
    tuning.sweep(values, times, STEP, ">", thresholds[:10], [0], [])
    one = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    tuning.sweep(values, times, STEP, ">", thresholds, [0, 60, 120, 300, 600, 900], [])
    full = time.perf_counter() - t0
    assert full < one * 200 * 3, (full, one)
