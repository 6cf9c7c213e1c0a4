"""Backtesting on a real Prometheus: two days of synthetic history are backfilled with promtool
into a stack's Prometheus, the engine replays HighErrorRate over it through
prometheus-api-client, and --apply rewrites the rule only when its promtool tests still pass."""

from __future__ import annotations

import json
import shutil
import time
import uuid

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


def test_recording_rules_are_backfilled_over_the_range(with_history):
    _stack, prom, _ = with_history
    a_day_ago = time.time() - 86400
    for record in ("slo:sli_error:ratio_rate5m", "slo:sli_error:ratio_rate1h", "slo:error_budget:ratio"):
        found = prom.custom_query(f'{record}{{sloth_slo="api-availability"}}', params={"time": a_day_ago})
        assert found, f"{record} has no backfilled sample a day ago"


def test_apply_rewrites_only_when_the_promtool_tests_pass(project, docker, server_images, tmp_path):
    for folder in ("alerts", "compose"):
        shutil.copytree(project.root / folder, tmp_path / folder, ignore=shutil.ignore_patterns("ca-certificates"))
    copy = Project(tmp_path)
    image = server_images["prometheus"]
    run = lambda d: checks.promtool_test_dir(docker, image, d)  # noqa: E731
    path = copy.root / "alerts" / "receipt-vault.rules.yml"
    rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.06, None, run)
    assert rules.split_threshold(rules.find_alert(copy, "HighErrorRate", "critical").rule["expr"]).value == 0.06
    before = path.read_bytes()
    with pytest.raises(RvlocalError, match="breaks promtool unit tests"):  # the 10% test case would stop firing
        rules.apply_threshold(copy, rules.find_alert(copy, "HighErrorRate", "critical"), 0.5, None, run)
    assert path.read_bytes() == before


def run_notebook(path, extra: str) -> str:
    """Execute the notebook headless with one more cell; return that cell's printed output."""
    import nbformat
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    book.cells.append(nbformat.v4.new_code_cell(extra))
    NotebookClient(book, timeout=240, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return "".join(o.get("text", "") for o in book.cells[-1].outputs if o.get("name") == "stdout")


@pytest.fixture
def notebook_env(with_history, monkeypatch):
    stack, prom, _ = with_history
    end = float(int(time.time()))
    for key, value in {"RVLOCAL_PROMETHEUS_URL": prom.url, "RVLOCAL_STACK": stack.name, "RVLOCAL_RANGE_DAYS": "2",
                       "RVLOCAL_END": str(end), "RVLOCAL_ALERT": "HighErrorRate", "RVLOCAL_SEVERITY": "critical",
                       "RVLOCAL_SLO": "api-availability"}.items():
        monkeypatch.setenv(key, value)
    return stack, prom, end


def test_the_tuning_notebook_shows_the_engines_table(project, notebook_env):
    stack, prom, end = notebook_env
    shown = json.loads(run_notebook(project.root / "notebooks" / "threshold-tuning.ipynb", "print(json.dumps(table))"))
    truth = history.load_incidents(history.history_dir(project, stack.name) / "incidents.json")
    incidents = [tuning.Incident(i.start, i.end, i.kind) for i in truth if "HighErrorRate:critical" in i.expect]
    expected = tuning.table_rows(tuning.backtest_alert(project, prom, "HighErrorRate", "critical", end - 2 * 86400, end,
                                                       incidents=incidents).ranked[:15])
    assert shown == expected and len(shown) == 15


def test_the_burn_rate_notebook_shows_when_it_would_have_paged(project, notebook_env):
    from rvlocal import burn

    _stack, prom, end = notebook_env
    shown = json.loads(run_notebook(project.root / "notebooks" / "slo-burn-rate.ipynb", "print(json.dumps(pages))"))
    result = burn.burn_history(project, prom, "api-availability", end - 2 * 86400, end, step=60)
    assert shown == result.episodes("page") + result.episodes("ticket")
    assert any(p["kind"] == "page" for p in shown), "the error bursts burn the 0.1% budget fast enough to page"


def test_import_copies_raw_samples_exactly(project, with_history, docker, server_images):
    """history import reads raw samples as range vectors and backfills them: the copy holds
    exactly the source's samples (checked with promtool tsdb dump on a scratch volume)."""
    stack, prom, _ = with_history
    end = float(int(time.time()))
    start = end - 6 * 3600
    selector = 'up{job="receipt-vault-backend"}'
    folder = history.history_dir(project, stack.name)
    om = folder / "import-test.om"
    history.write_openmetrics(om, history.import_lines(prom, [selector], start, end))
    om.chmod(0o644)
    [source] = prom.custom_query(f"count_over_time({selector}[{int(end - start)}s])", params={"time": end})
    expected = int(float(source["value"][1]))
    volume = f"rvtest-import-{uuid.uuid4().hex[:8]}"
    docker.volume.create(volume)
    try:
        image = server_images["prometheus"]
        history.backfill(docker, image, volume, om)
        dump = docker.container.run(image, ["-c", "mkdir -p /p/wal && promtool tsdb dump /p"], entrypoint="sh",
                                    user="0", remove=True, volumes=[(volume, "/p")])
        samples = [line for line in dump.splitlines() if 'job="receipt-vault-backend"' in line]
        assert len(samples) == expected > 100, (len(samples), expected, dump[:300])
    finally:
        docker.volume.remove(volume)
        om.unlink(missing_ok=True)
