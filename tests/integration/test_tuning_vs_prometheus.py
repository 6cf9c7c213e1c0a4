"""The backtesting engine replays exactly what Prometheus does: for many random series,
thresholds, operators, `for` and keep_firing_for values, the evaluations at which the engine says
an alert fires are the ones promtool's rule unit tests (Prometheus' own rule engine) expect.
Every evaluation of every case is asserted; one promtool run checks them all."""

from __future__ import annotations

import random

import numpy as np
import pytest
import yaml

from rvlocal import checks, state, tuning

pytestmark = [pytest.mark.docker]

INTERVAL = 15.0
STEPS = 48
FORS = (0, 15, 20, 30, 45, 50, 60, 120)
KEEPS = (0, 0, 0, 15, 30, 50)


def random_case(rng: random.Random, i: int) -> dict:
    level = rng.choice([0.0, 0.3, 0.5])
    values, current = [], level
    for _ in range(STEPS):
        if rng.random() < 0.25:  # bursts, so runs of every length appear
            current = rng.choice([0.0, 0.3, 0.5, 0.7, 1.0])
        values.append(None if rng.random() < 0.05 else current)  # None: a stale marker
    return {"i": i, "values": values, "op": rng.choice([">", ">=", "<", "<="]),
            "threshold": rng.choice([0.3, 0.5, 0.6]), "for": rng.choice(FORS), "keep": rng.choice(KEEPS)}


def promtool_files(cases: list[dict]) -> tuple[dict, dict]:
    rules, tests = [], []
    for c in cases:
        rule = {"alert": f"Case{c['i']}", "expr": f"case_{c['i']} {c['op']} {c['threshold']}", "for": f"{c['for']}s"}
        if c["keep"]:
            rule["keep_firing_for"] = f"{c['keep']}s"
        rules.append(rule)
        values = np.array([np.nan if v is None else v for v in c["values"]])
        fire = tuning.firing_mask(values, c["threshold"], c["op"], INTERVAL, c["for"], c["keep"])
        series = " ".join("stale" if v is None else f"{v}" for v in c["values"])
        tests.append({
            "name": f"case {c['i']}: {c['op']} {c['threshold']} for {c['for']}s keep {c['keep']}s",
            "interval": "15s",
            "input_series": [{"series": f'case_{c["i"]}{{case="{c["i"]}"}}', "values": series}],
            "alert_rule_test": [{"eval_time": f"{int(k * INTERVAL)}s", "alertname": f"Case{c['i']}",
                                 "exp_alerts": [{"exp_labels": {"case": str(c["i"])}}] if fire[k] else []}
                                for k in range(STEPS)],
        })
    return ({"groups": [{"name": "property", "interval": "15s", "rules": rules}]},
            {"rule_files": ["property.rules.yml"], "evaluation_interval": "15s", "tests": tests})


def test_engine_firing_equals_prometheus(project, docker, server_images):
    rng = random.Random(20261204)
    cases = [random_case(rng, i) for i in range(80)]
    assert {c["for"] for c in cases} >= {0, 20, 60} and any(c["keep"] for c in cases)
    rule_file, test_file = promtool_files(cases)
    folder = state.ensure_state_dir(project) / "property-test"
    folder.mkdir(exist_ok=True)
    folder.chmod(0o755)
    for name, data in (("property.rules.yml", rule_file), ("property.test.yml", test_file)):
        (folder / name).write_text(yaml.safe_dump(data, sort_keys=False))
        (folder / name).chmod(0o644)
    firing_evaluations = sum(len(t["alert_rule_test"][k]["exp_alerts"]) for t in test_file["tests"] for k in range(STEPS))
    assert firing_evaluations > 200, "the cases must exercise firing, not only silence"
    try:
        checks.run_tool(docker, server_images["prometheus"], "promtool", ["test", "rules", "property.test.yml"],
                        [(folder, "/t")], workdir="/t")
    except checks.ToolFailed as exc:
        pytest.fail("the engine disagrees with Prometheus:\n" + exc.output[-6000:])
