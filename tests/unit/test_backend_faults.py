"""Fault injection: the admin API's guard, validation, semantics and expiry."""

from __future__ import annotations

import random
import statistics

import pytest

from rvlocal.backend.faults import FaultUpdate, Faults
from rvlocal.backend.ocr import SimulatedOcr
from rvlocal.backend.settings import OcrSettings


def test_admin_api_refuses_missing_and_wrong_tokens(backend):
    assert backend.client.get("/admin/faults").status_code == 401
    assert backend.admin("GET", token="nope").status_code == 401
    wrong = backend.client.put("/admin/faults", json={"error_rate": 1}, headers={"Authorization": "Basic abc"})
    assert wrong.status_code == 401
    assert backend.client.get("/api/receipts").status_code == 200, "a refused call changes nothing"


def test_admin_api_is_off_without_a_configured_token(make_backend):
    h = make_backend(admin_token="")
    response = h.admin("GET", token="")
    assert response.status_code == 503 and "RV_ADMIN_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize("body, loc, words", [
    ({"error_rate": 1.5}, ["body", "error_rate", "value"], "less than or equal to 1"),
    ({"error_rate": {"value": 0.1, "for_seconds": -1}}, ["body", "error_rate", "for_seconds"], "greater than 0"),
    ({"extra_latency_ms": -3}, ["body", "extra_latency_ms", "value"], "greater than or equal to 0"),
    ({"ocr_latency_multiplier": 0}, ["body", "ocr_latency_multiplier", "value"], "greater than 0"),
    ({"readiness_down": "maybe"}, ["body", "readiness_down", "value"], "valid boolean"),
    ({"error_rte": 0.5}, ["body", "error_rte"], "Extra inputs"),
])
def test_invalid_fault_values_get_422_naming_field_and_reason(backend, body, loc, words):
    response = backend.admin("PUT", body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["loc"] for d in detail] == [loc] and words in detail[0]["msg"]
    assert not any(v["active"] for v in backend.admin("GET").json().values()), "nothing applied"


def test_error_rate_makes_api_requests_fail_but_not_health(backend):
    assert backend.admin("PUT", {"error_rate": 1.0}).json()["error_rate"]["active"] is True
    assert {backend.client.get("/api/receipts").status_code for _ in range(5)} == {500}
    assert backend.client.get("/health").status_code == 200
    assert backend.sample("receipt_vault_errors_total", type="InjectedFault") == 5
    backend.admin("DELETE")
    assert backend.client.get("/api/receipts").status_code == 200


def test_partial_error_rate_fails_about_that_share(backend):
    backend.admin("PUT", {"error_rate": 0.3})
    codes = [backend.client.get("/api/receipts").status_code for _ in range(400)]
    share = codes.count(500) / len(codes)
    assert 0.22 < share < 0.38, share  # binomial, n=400: ±0.08 is > 3.4 sigma


def test_extra_latency_is_added_to_api_requests(backend):
    backend.admin("PUT", {"extra_latency_ms": 60})
    backend.client.get("/api/receipts")
    line = [l for l in backend.log_lines() if l.get("route") == "/api/receipts"][-1]
    assert line["duration_ms"] >= 60


def test_readiness_down_fails_readiness_only(backend):
    backend.admin("PUT", {"readiness_down": True})
    assert backend.client.get("/health/readiness").status_code == 503
    assert backend.client.get("/health/liveness").status_code == 200
    assert backend.client.get("/api/receipts").status_code == 200


def test_ocr_failure_rate_fails_receipts_and_marks_the_provider(backend):
    backend.admin("PUT", {"ocr_failure_rate": 1.0})
    receipt = backend.wait_processed(backend.upload(user_type="individual").json()["id"])
    assert receipt["status"] == "failed" and receipt["failure_reason"]
    assert backend.sample("receipt_vault_receipts_processed_total", status="failed", user_type="individual") == 1
    assert backend.sample("receipt_vault_errors_total", type="ocr_failure") == 1
    assert backend.client.get("/health").json()["checks"]["ocr_provider"]["status"] == "error"


def test_faults_expire_and_report_when():
    now = [1000.0]
    faults = Faults(clock=lambda: now[0])
    faults.apply(FaultUpdate.model_validate({"error_rate": {"value": 0.5, "for_seconds": 60},
                                             "extra_latency_ms": 200}))
    snap = faults.snapshot()
    assert snap["error_rate"]["remaining_seconds"] == 60 and snap["error_rate"]["expires_at"].endswith("Z")
    assert snap["extra_latency_ms"]["expires_at"] is None
    now[0] += 59.9
    assert faults.value("error_rate") == 0.5
    now[0] += 0.1
    assert faults.value("error_rate") == 0.0 and faults.value("extra_latency_ms") == 200
    faults.apply(FaultUpdate.model_validate({"extra_latency_ms": 0}))  # the neutral value clears
    assert not any(v["active"] for v in faults.snapshot().values())


def test_put_changes_only_the_faults_it_names(backend):
    backend.admin("PUT", {"error_rate": 0.2})
    after = backend.admin("PUT", {"extra_latency_ms": 5}).json()
    assert after["error_rate"]["value"] == 0.2 and after["extra_latency_ms"]["value"] == 5


def test_ocr_latency_multiplier_scales_the_same_draw():
    settings = OcrSettings(median_seconds=2.0, sigma=0.5)
    base = SimulatedOcr(settings, random.Random(3)).latency()
    slowed = SimulatedOcr(settings, random.Random(3)).latency(multiplier=4.0)
    assert slowed == pytest.approx(4 * base)


def test_default_ocr_latency_has_its_median_and_meets_the_ocr_slo():
    ocr = SimulatedOcr(OcrSettings(), random.Random(11))
    draws = sorted(ocr.latency() for _ in range(20000))
    assert statistics.median(draws) == pytest.approx(OcrSettings.median_seconds, rel=0.05)
    assert draws[int(0.9 * len(draws))] < 15.0, "a healthy backend must meet the OCR p90 < 15 s SLO"
