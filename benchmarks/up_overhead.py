"""Warm time-to-healthy: `rvlocal up` against plain `docker compose up -d --wait`.

Same compose file, same env file, same services, images already present; runs alternate so
drift on a noisy machine hits both sides. Prints the medians and their ratio (target <= 1.10).

    .venv/bin/python benchmarks/up_overhead.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid

from rvlocal import state
from rvlocal.project import Project
from rvlocal.stack import Stack, UpOptions


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each side (default 5)")
    parser.add_argument("--port-offset", type=int, default=23000)
    args = parser.parse_args()

    project = Project.discover()
    name = f"rvbench-{uuid.uuid4().hex[:6]}"
    stack = Stack(project, name)
    options = UpOptions(name, port_offset=args.port_offset)
    print(f"warming up ({name}): images, backend build, config checks ...", flush=True)
    result = stack.up(options)
    services = [s.service for s in result.statuses if s.service not in result.unavailable]
    stack.down()
    compose = stack.compose(state.env_path(project, name))
    rvlocal_cmd = [sys.executable, "-m", "rvlocal.cli", "up", "--project-name", name,
                   "--port-offset", str(args.port_offset), "--root", str(project.root)]

    def time_rvlocal() -> float:
        t0 = time.perf_counter()
        subprocess.run(rvlocal_cmd, check=True, capture_output=True)
        return time.perf_counter() - t0

    def time_compose() -> float:
        t0 = time.perf_counter()
        compose.compose.up(services, detach=True, wait=True, pull="never", no_build=True, quiet=True)
        return time.perf_counter() - t0

    timings: dict[str, list[float]] = {"rvlocal up": [], "docker compose up --wait": []}
    try:
        for i in range(args.runs):
            order = [("rvlocal up", time_rvlocal), ("docker compose up --wait", time_compose)]
            if i % 2:
                order.reverse()
            for label, fn in order:
                timings[label].append(fn())
                stack.down()
                print(f"run {i + 1}: {label:26s} {timings[label][-1]:6.2f} s", flush=True)
    finally:
        stack.down(volumes=True)
        state.env_path(project, name).unlink(missing_ok=True)

    ours = statistics.median(timings["rvlocal up"])
    base = statistics.median(timings["docker compose up --wait"])
    print(f"\nservices: {', '.join(services)}")
    print(f"median rvlocal up                : {ours:.2f} s")
    print(f"median docker compose up --wait  : {base:.2f} s")
    print(f"ratio rvlocal/compose            : {ours / base:.2f}  (target <= 1.10)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
