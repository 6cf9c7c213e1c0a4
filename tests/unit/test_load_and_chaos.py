"""The load generator and the chaos client against a real uvicorn-served backend (no Docker)."""

from __future__ import annotations

import pytest

from rvlocal import load
from rvlocal.chaos import FaultClient, describe
from rvlocal.durations import format_duration, parse_duration
from rvlocal.errors import RvlocalError
from tests.unit.backend_helpers import TOKEN


@pytest.mark.parametrize("text, seconds", [("400ms", 0.4), ("30s", 30), ("5m", 300), ("1h30m", 5400),
                                           ("2d", 172800), ("1w", 604800), ("90", 90), ("1.5m", 90)])
def test_durations_parse_like_prometheus(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5 minutes", "5x", "m5", "-3s", "0s", "1h 5m"])
def test_bad_durations_say_how_to_write_one(text):
    with pytest.raises(RvlocalError) as info:
        parse_duration(text, "--for")
    assert "--for" in info.value.message and "30s" in info.value.hint


def test_durations_format_back():
    assert [format_duration(s) for s in (0.4, 59.6, 300, 5400)] == ["400ms", "1m", "5m", "1h30m"]


def test_mix_parses_and_must_add_up_to_one():
    assert load.Mix.parse("uploads=0.3,reads=0.5,lists=0.2") == load.Mix(0.3, 0.5, 0.2)
    assert load.Mix.parse("lists=1") == load.Mix(0, 0, 1)
    for bad, words in [("uploads=0.5", "add up to 0.5"), ("writes=1", "KIND=SHARE"),
                       ("uploads=x,reads=1", "not a number"), ("uploads=-1,reads=2", "negative")]:
        with pytest.raises(RvlocalError, match=words):
            load.Mix.parse(bad)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:8000", "http://[::1]:8000",
                                 "http://127.0.0.2:9"])
def test_local_targets_are_allowed(url):
    load.require_local(url)


@pytest.mark.parametrize("url, words", [("http://10.1.2.3:8000", "only targets this machine"),
                                        ("http://8.8.8.8", "only targets this machine"),
                                        ("ftp://127.0.0.1", "not an http"),
                                        ("http://no-such-host.invalid", "cannot resolve")])
def test_remote_targets_are_refused(url, words):
    with pytest.raises(RvlocalError, match=words):
        load.require_local(url)


def test_plans_are_bounded_in_requests_and_time():
    mix = load.Mix.parse(load.DEFAULT_MIX)
    with pytest.raises(RvlocalError, match="over the bound"):
        load.LoadPlan("http://127.0.0.1:1", 100, 600, mix, max_requests=1000).validate()
    with pytest.raises(RvlocalError, match="--rps"):
        load.LoadPlan("http://127.0.0.1:1", 5000, 1, mix).validate()
    with pytest.raises(RvlocalError, match="--duration"):
        load.LoadPlan("http://127.0.0.1:1", 1, 7200, mix).validate()


def test_load_sends_exactly_the_plan_and_counts_what_the_server_counts(live_backend):
    url, app = live_backend
    plan = load.LoadPlan(url, rps=100, duration_s=1.0, mix=load.Mix.parse(load.DEFAULT_MIX), seed=1)
    result = load.run_sync(plan)
    assert result.sent == result.completed == 100 and result.errors == 0
    assert sum(result.by_kind.values()) == 100 and set(result.by_kind) == {"uploads", "reads", "lists"}
    metrics = app.state.backend.metrics
    served = sum(s.value for m in metrics.requests.collect() for s in m.samples
                 if s.name == "receipt_vault_requests_total" and s.labels["endpoint"].startswith("/api/"))
    assert served == 100
    assert result.percentile(50) <= result.percentile(95) <= result.percentile(99)


def test_open_loop_keeps_sending_while_the_server_is_slow(live_backend):
    url, _app = live_backend
    client = FaultClient(url, TOKEN)
    client.set("extra_latency_ms", 300)
    result = load.run_sync(load.LoadPlan(url, rps=50, duration_s=1.0, mix=load.Mix(0, 0, 1)))
    # Closed loop, one request would wait for the previous: never more than 1 in flight.
    assert result.completed == 50 and result.max_in_flight >= 5
    assert min(result.latencies_s) >= 0.3


def test_chaos_client_sets_reports_and_clears_faults(live_backend):
    url, _app = live_backend
    client = FaultClient(url, TOKEN)
    snapshot = client.set("error_rate", 0.5, for_seconds=300)
    [line] = describe(snapshot, ("error_rate",))
    assert line.startswith("error_rate = 0.5 — reverts at ") and "(in 5m)" in line
    assert describe(client.set("readiness_down", True), ("readiness_down",)) == [
        "readiness_down = True — until rvlocal chaos clear"]
    assert all(line.endswith(": off") for line in describe(client.clear()))


def test_chaos_client_errors_say_what_to_do(live_backend):
    url, _app = live_backend
    with pytest.raises(RvlocalError, match="refused the admin token") as info:
        FaultClient(url, "wrong").get()
    assert "rvlocal up" in info.value.hint
    with pytest.raises(RvlocalError, match=r"error_rate.value: Input should be less than or equal to 1"):
        FaultClient(url, TOKEN).set("error_rate", 3)
    with pytest.raises(RvlocalError, match="did not answer") as info:
        FaultClient("http://127.0.0.1:9", TOKEN).get()
    assert "rvlocal up" in info.value.hint
