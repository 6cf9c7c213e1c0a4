"""The backtesting engine against the naive approach, on the same backfilled history.

Brings up a stack, backfills --days of synthetic history, then for HighErrorRate (warning):
- naive: one Prometheus query_range per candidate threshold (`EXPR > threshold`, chunked under
  the points limit) through prometheus-api-client, counting firing points;
- engine: rvlocal.tuning.backtest_alert, which fetches the compared expression once and sweeps
  the same thresholds × 6 `for` values (scoring every candidate against the incidents).
Prints both times and the ratio naive/engine (target >= 50), and the engine's absolute time.

    .venv/bin/python benchmarks/backtest.py --days 7 --thresholds 40
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

import numpy as np
from prometheus_api_client import PrometheusConnect

from rvlocal import history, rules, tuning
from rvlocal.project import Project
from rvlocal.stack import UpOptions, scratch


def naive(prom: PrometheusConnect, query: str, op: str, thresholds, start: float, end: float, step: float) -> list[int]:
    counts = []
    chunk = (tuning.MAX_POINTS - 1) * step
    for threshold in thresholds:
        firing = 0
        lo = start
        while lo <= end:
            hi = min(lo + chunk, end)
            for s in prom.custom_query_range(f"({query}) {op} {threshold}", start_time=datetime.fromtimestamp(lo),
                                             end_time=datetime.fromtimestamp(hi), step=f"{step:g}s"):
                firing += len(s["values"])
            lo = hi + step
        counts.append(firing)
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=float, default=7)
    parser.add_argument("--thresholds", type=int, default=40)
    parser.add_argument("--port-offset", type=int, default=25000)
    args = parser.parse_args()

    project = Project.discover()
    name = "rvbench-backtest"
    print(f"bringing up {name} and backfilling {args.days:g} days ...", flush=True)
    with scratch(project, UpOptions(name, port_offset=args.port_offset)) as stack:
        _, incidents, _ = history.synth_into_stack(stack, args.days, seed=4)
        prom = PrometheusConnect(url=f"http://127.0.0.1:{stack.env()['PROMETHEUS_PORT']}", disable_ssl=True)
        alert = rules.find_alert(project, "HighErrorRate", "warning")
        threshold = rules.split_threshold(alert.rule["expr"])
        interval = rules.evaluation_interval(project, alert)
        thresholds = np.round(np.linspace(0.002, 0.05, args.thresholds), 6)
        end = time.time()
        start = end - args.days * 86400
        truth = [tuning.Incident(i.start, i.end, i.kind) for i in incidents if "HighErrorRate:warning" in i.expect]

        t0 = time.perf_counter()
        result = tuning.backtest_alert(project, prom, "HighErrorRate", "warning", start, end, thresholds,
                                       [0, 60, 120, 300, 600, 900], incidents=truth)
        engine_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        times, series = tuning.fetch(prom, threshold.query(), start, end, interval)
        fetch_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        naive(prom, threshold.query(), threshold.op, thresholds, start, end, interval)
        naive_s = time.perf_counter() - t0
        points = int(args.days * 86400 / interval)
        print(f"{args.days:g} days at {interval:g}s ({points:,} evaluations), {len(thresholds)} thresholds")
        print(f"engine: {engine_s:.2f}s for {len(result.ranked)} candidates (fetch once, sweep, score; "
              f"the fetch alone {fetch_s:.2f}s)")
        print(f"naive:  {naive_s:.2f}s for {len(thresholds)} thresholds (one query_range each, counting only)")
        print(f"ratio naive/engine = {naive_s / engine_s:.0f}x  (target >= 50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
