"""`rvlocal promote` end to end, as a person runs it: the done-when cases of the promotion issue.
Deleting the release label, growing a dashboard past the limit or moving a histogram bucket
makes promote fail with a message that says what to fix, and nothing is written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker  # promtool and amtool run in the Prometheus/Alertmanager images

CLI = [sys.executable, "-c", "from rvlocal.cli import main; main()"]


def rvlocal(*args: str, root: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200"}
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([*CLI, *args, "--root", str(root)], capture_output=True, text=True, env=env, timeout=300,
                          cwd=root)  # not the checkout: `python -c` puts the cwd first on sys.path


def test_promote_writes_manifests_that_pass_every_check(project, tmp_path):
    out = tmp_path / "k8s"
    done = rvlocal("promote", "--env", "production", "--out", str(out), root=project.root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(list(out.rglob("*.yaml"))) == 17
    again = rvlocal("promote", "--env", "production", "--check", "--out", str(out), root=project.root)
    assert again.returncode == 0 and "pass every check" in again.stdout, again.stdout + again.stderr


def test_deleting_the_release_label_fails_the_check_naming_file_and_label(project, tmp_path):
    out = tmp_path / "k8s"
    assert rvlocal("promote", "--env", "production", "--out", str(out), root=project.root).returncode == 0
    rule = out / "prometheus-rules" / "receipt-vault.yaml"
    rule.write_text(rule.read_text().replace("    release: kube-prometheus-stack\n", ""))
    done = rvlocal("promote", "--env", "production", "--check", "--out", str(out), root=project.root)
    assert done.returncode == 1
    assert "prometheus-rules/receipt-vault.yaml: PrometheusRule/receipt-vault: lacks the label release=kube-prometheus-stack" in done.stdout
    assert "the operator would ignore it" in done.stdout


def test_a_dashboard_past_the_configmap_limit_fails_and_nothing_is_written(source_copy, tmp_path):
    board_file = source_copy.root / "dashboards" / "debug.json"
    board = json.loads(board_file.read_text())
    board["description"] = "x" * 270_000
    board_file.write_text(json.dumps(board, indent=2))
    out = tmp_path / "k8s"
    done = rvlocal("promote", "--env", "production", "--out", str(out), root=source_copy.root)
    assert done.returncode == 1
    assert "ConfigMap/grafana-dashboard-debug" in done.stdout and "Shrink dashboards/debug.json" in done.stdout
    assert "nothing was written" in done.stderr and not out.exists()


def test_moving_a_histogram_bucket_fails_naming_the_threshold(project, source_copy, tmp_path):
    package = tmp_path / "src"
    shutil.copytree(project.root / "rvlocal", package / "rvlocal", ignore=shutil.ignore_patterns("__pycache__"))
    metrics = package / "rvlocal" / "backend" / "metrics.py"
    metrics.write_text(metrics.read_text().replace("0.1, 0.2, 0.3, 0.5", "0.1, 0.25, 0.5"))
    out = tmp_path / "k8s"
    done = rvlocal("promote", "--env", "production", "--out", str(out), root=source_copy.root, pythonpath=package)
    assert done.returncode == 1
    assert 'selects le="0.2" of receipt_vault_request_duration_seconds' in done.stdout
    assert "HighLatencyP95: compares a quantile of receipt_vault_request_duration_seconds with 0.2" in done.stdout
    assert "add it to the histogram's buckets in rvlocal/backend/metrics.py" in done.stdout
    assert not out.exists()


def test_diff_shows_what_promotion_changes(project):
    done = rvlocal("promote", "--env", "production", "--diff", root=project.root)
    assert done.returncode == 0, done.stderr
    for text in ("replicas", "retention", "Secret alertmanager-receivers, key slack-critical-url", "gp3 100Gi",
                 "http://127.0.0.1:3000", "https://grafana.receiptvault.example"):
        assert text in done.stdout
    assert "settings change" in done.stdout and "Unchanged: 5 rule files" in done.stdout
