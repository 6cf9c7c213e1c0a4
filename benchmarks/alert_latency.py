"""Time from a fault to the notification at the sink, against its floor.

Brings up a stack with --fast-alerts (the production rules and routing with `for` 15s and
group_wait 5s), then, several times: stops the backend and measures until ServiceDown's Slack
message reaches the sink; starts it again and waits for the resolved message. The floor is the
pipeline's own worst-case wait: scrape interval + evaluation interval + `for` + group_wait.
Prints each run and "measured - floor" (target <= 5 s: rvlocal adds nothing of its own).

    .venv/bin/python benchmarks/alert_latency.py --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

import httpx
import yaml

from rvlocal import rules
from rvlocal.chaos import start_service, stop_service
from rvlocal.durations import parse_duration
from rvlocal.project import Project
from rvlocal.stack import UpOptions, scratch


def floor_seconds(project: Project, env: dict[str, str]) -> tuple[float, str]:
    prom = yaml.safe_load((project.compose_dir / "prometheus" / "prometheus.yml").read_text())["global"]
    variant = yaml.safe_load(open(env["PROMETHEUS_RULES_DIR"] + "/receipt-vault.rules.yml"))
    service_down = next(r for g in variant["groups"] for r in g["rules"] if r.get("alert") == "ServiceDown")
    am = yaml.safe_load(open(env["ALERTMANAGER_CONFIG_FILE"]))["route"]
    parts = {"scrape": prom["scrape_interval"], "evaluation": prom["evaluation_interval"],
             "for": service_down["for"], "group_wait": am["group_wait"]}
    return sum(parse_duration(v) for v in parts.values()), " + ".join(f"{k} {v}" for k, v in parts.items())


def wait_for(sink: str, status: str, since: float, timeout: float = 300) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for r in httpx.get(f"{sink}/api/notifications", params={"alertname": "ServiceDown", "status": status,
                                                                   "kind": "slack"}, timeout=5).json():
            if r["received_at"] >= since:
                return r["received_at"]
        time.sleep(0.2)
    raise SystemExit(f"no {status} ServiceDown notification within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port-offset", type=int, default=24000)
    args = parser.parse_args()

    project = Project.discover()
    name = f"rvbench-{uuid.uuid4().hex[:6]}"
    print(f"bringing up {name} with --fast-alerts ...", flush=True)
    with scratch(project, UpOptions(name, port_offset=args.port_offset, fast_alerts=True)) as stack:
        env = stack.env()
        sink = f"http://127.0.0.1:{env['ALERT_SINK_PORT']}"
        floor, parts = floor_seconds(project, env)
        print(f"floor = {parts} = {floor:.0f}s  (fast variant of {rules.FAST_MAX_FOR} for)")
        deltas = []
        for run in range(1, args.runs + 1):
            t0 = time.time()
            stop_service(stack, "backend")
            fired = wait_for(sink, "firing", t0)
            start_service(stack, "backend")
            wait_for(sink, "resolved", fired)
            measured = fired - t0
            deltas.append(measured - floor)
            print(f"run {run}: fault → Slack message {measured:5.1f}s, measured − floor = {measured - floor:+5.1f}s",
                  flush=True)
        print(f"\nmedian measured − floor = {statistics.median(deltas):+.1f}s, worst {max(deltas):+.1f}s "
              f"(target <= 5 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
