"""The backend's HTTP API: receipts, health and their status codes (TestClient, no Docker)."""

from __future__ import annotations

import base64

import pytest


def test_health_reports_each_check_uptime_and_version(backend):
    response = backend.client.get("/health")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "healthy"
    assert set(body["checks"]) == {"database", "ocr_provider", "disk"}
    assert all(c["status"] == "ok" for c in body["checks"].values())
    assert body["version"] == "9.9.9" and body["uptime_seconds"] >= 0
    assert backend.client.get("/health/liveness").json() == {"status": "ok"}
    assert backend.client.get("/health/readiness").json() == {"status": "ready"}


def test_health_is_503_with_the_failing_check_named(backend):
    backend.backend.store.close()  # the database goes away
    response = backend.client.get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "error" and body["checks"]["disk"]["status"] == "ok"
    ready = backend.client.get("/health/readiness")
    assert ready.status_code == 503 and "database" in ready.json()["reasons"][0]
    assert backend.client.get("/health/liveness").status_code == 200, "liveness must not depend on the db"


def test_disk_check_fails_below_the_free_space_floor(make_backend):
    h = make_backend(min_free_disk_bytes=1 << 62)
    body = h.client.get("/health").json()
    assert body["checks"]["disk"]["status"] == "error" and "bytes free" in body["checks"]["disk"]["error"]


def test_json_upload_is_accepted_then_processed_by_ocr(backend):
    image = b"\x89PNG fake receipt image"
    response = backend.upload(user_type="business", image_base64=base64.b64encode(image).decode())
    assert response.status_code == 202
    receipt = response.json()
    assert response.headers["location"] == f"/api/receipts/{receipt['id']}"
    assert receipt["status"] == "processing" and receipt["image_bytes"] == len(image)
    assert "image" not in receipt and "image_base64" not in receipt
    done = backend.wait_processed(receipt["id"])
    assert done["status"] == "processed" and done["user_type"] == "business"
    assert done["extracted_merchant"] == "CORNER CAFE" and 0 < done["ocr_confidence"] <= 1
    assert done["extracted_total"] is not None and done["processed_at"] >= done["created_at"]


def test_multipart_upload_with_image(backend):
    response = backend.client.post(
        "/api/receipts", data={"merchant": "Hardware Co", "amount": "99.90", "currency": "EUR"},
        files={"image": ("receipt.jpg", b"JPEGDATA" * 10, "image/jpeg")})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["image_bytes"] == 80 and body["currency"] == "EUR" and body["user_type"] == "individual"


@pytest.mark.parametrize("body, field", [
    ({"merchant": "", "amount": 1, "currency": "USD"}, "merchant"),
    ({"merchant": "A", "amount": -5, "currency": "USD"}, "amount"),
    ({"merchant": "A", "amount": 5, "currency": "usd"}, "currency"),
    ({"merchant": "A", "amount": 5, "currency": "USD", "user_type": "robot"}, "user_type"),
    ({"merchant": "A", "amount": 5, "currency": "USD", "image_base64": "%%%"}, "image_base64"),
    ({"merchant": "A", "amount": 5, "currency": "USD", "surprise": 1}, "surprise"),
])
def test_invalid_uploads_get_422_naming_the_field(backend, body, field):
    response = backend.client.post("/api/receipts", json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", field]]


def test_oversized_image_and_non_json_body(make_backend):
    h = make_backend(max_image_bytes=10)
    big = h.upload(image_base64=base64.b64encode(b"x" * 11).decode())
    assert big.status_code == 413 and "limit is 10" in big.json()["detail"]
    garbage = h.client.post("/api/receipts", content=b"merchant=A", headers={"content-type": "text/plain"})
    assert garbage.status_code == 400 and "multipart" in garbage.json()["detail"]


def test_get_unknown_receipt_is_404(backend):
    response = backend.client.get("/api/receipts/does-not-exist")
    assert response.status_code == 404


def test_list_is_paginated_newest_first(backend):
    ids = [backend.upload(merchant=f"M{i}").json()["id"] for i in range(5)]
    first = backend.client.get("/api/receipts", params={"page": 1, "page_size": 2}).json()
    third = backend.client.get("/api/receipts", params={"page": 3, "page_size": 2}).json()
    assert first["total"] == 5 and len(first["items"]) == 2 and len(third["items"]) == 1
    seen = [r["id"] for p in (1, 2, 3)
            for r in backend.client.get("/api/receipts", params={"page": p, "page_size": 2}).json()["items"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 5
    assert backend.client.get("/api/receipts", params={"page_size": 101}).status_code == 422
    assert backend.client.get("/api/receipts", params={"page": 0}).status_code == 422


def test_receipts_survive_a_restart(make_backend):
    receipt_id = make_backend().upload().json()["id"]
    again = make_backend()  # same data dir: a container restart with its volume
    assert again.client.get(f"/api/receipts/{receipt_id}").status_code == 200
