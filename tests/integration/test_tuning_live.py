"""Backtesting on a real Prometheus: two days of synthetic history are backfilled with promtool
into a stack's Prometheus, the engine replays HighErrorRate over it through
prometheus-api-client, and --apply rewrites the rule only when its promtool tests still pass."""

from __future__ import annotations

import shutil
import time

import numpy as np
import pytest
from prometheus_api_client import PrometheusConnect

from rvlocal import checks, history, rules, tuning
from rvlocal.errors import RvlocalError
from rvlocal.project import Project
from tests.conftest import stack_up

pytestmark = [pytest.mark.integration, pytest.mark.docker]


@pytest.fixture(scope="module")
def with_history(project):
    with stack_up(project, 35000) as stack:
        try:
            _path, incidents, _lines = history.synth_into_stack(stack, 2, seed=11, kinds=("error_burst", "slow_burn"))
            prom = PrometheusConnect(url=f"http://127.0.0.1:{stack.env()['PROMETHEUS_PORT']}", disable_ssl=True)
            yield stack, prom, incidents
        finally:
            shutil.rmtree(history.history_dir(project, stack.name), ignore_errors=True)


def test_the_current_rule_catches_the_error_bursts_and_the_sweep_ranks_it(project, with_history):
    _stack, prom, incidents = with_history
    bursts = [tuning.Incident(i.start, i.end, i.kind) for i in incidents if "HighErrorRate:critical" in i.expect]
    assert bursts, "the seed must produce error bursts"
    end = time.time()
    result = tuning.backtest_alert(project, prom, "HighErrorRate", "critical", end - 2 * 86400, end,
                                   thresholds=np.round(np.arange(0.01, 0.61, 0.01), 2), for_values=[0, 60, 120, 300],
                                   incidents=bursts)
    current = result.current
    assert current is not None and (current.threshold, current.for_s) == (0.05, 120.0)
    assert current.recall == 1.0 and current.precision == 1.0, current
    assert result.ranked[0].recall == 1.0
    too_high = [s for s in result.ranked if s.threshold > 0.4]
    assert too_high and all(s.recall < 1.0 for s in too_high), "thresholds above the bursts miss them"
    slow_burns = [i for i in incidents if i.kind == "slow_burn"]
    assert all("HighErrorRate:critical" not in i.expect for i in slow_burns)


def test_apply_rewrites_only_when_the_promtool_tests_pass(project, docker, tmp_path):
    for folder in ("alerts", "compose"):
        shutil.copytree(project.root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("ca-certificates"))
    copy = Project(tmp_path)
    from rvlocal import images
    from rvlocal.services import by_name
    plan = images.plan_with_docker([by_name("prometheus")], project.versions(), docker)
    images.ensure(plan, docker)
    image = plan.choices["prometheus"].image
    run = lambda d: checks.promtool_test_dir(docker, image, d)  # noqa: E731
    path = copy.root / "alerts" / "receipt-vault.rules.yml"
    rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.06, None, run)
    assert rules.split_threshold(rules.find_alert(copy, "HighErrorRate", "critical").rule["expr"]).value == 0.06
    before = path.read_bytes()
    with pytest.raises(RvlocalError, match="breaks promtool unit tests"):  # the 10% test case would stop firing
        rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.5, None, run)
    assert path.read_bytes() == before
