"""Building a backend app for unit tests: temporary data dir, in-memory spans, captured logs."""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, replace

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from rvlocal.backend.settings import OcrSettings, Settings

TOKEN = "test-admin-token-7f3a"
FAST_OCR = OcrSettings(median_seconds=0.002, sigma=0.1, failure_rate=0.0)


@dataclass
class Harness:
    client: TestClient
    spans: InMemorySpanExporter
    log: io.StringIO

    @property
    def backend(self):
        return self.client.app.state.backend

    def log_lines(self) -> list[dict]:
        return [json.loads(line) for line in self.log.getvalue().splitlines() if line.strip()]

    def families(self) -> dict:
        return {f.name: f for f in text_string_to_metric_families(self.client.get("/metrics").text)}

    def sample(self, name: str, **labels) -> float:
        """Sum of samples called `name` whose labels include `labels` (0 when none)."""
        total = 0.0
        for family in self.families().values():
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    total += s.value
        return total

    def admin(self, method: str, body: dict | None = None, token: str = TOKEN):
        return self.client.request(method, "/admin/faults", json=body,
                                   headers={"Authorization": f"Bearer {token}"})

    def upload(self, **fields):
        body = {"merchant": "Corner Cafe", "amount": 12.5, "currency": "USD", **fields}
        return self.client.post("/api/receipts", json=body)

    def wait_processed(self, receipt_id: str, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            receipt = self.client.get(f"/api/receipts/{receipt_id}").json()
            if receipt["status"] != "processing":
                return receipt
            time.sleep(0.01)
        raise AssertionError(f"receipt {receipt_id} still processing after {timeout}s")


def settings_for(tmp_path, **overrides) -> Settings:
    base = Settings(data_dir=tmp_path, admin_token=TOKEN, ocr=FAST_OCR, environment="test",
                    version="9.9.9", traces_per_second=0)
    return replace(base, **overrides)
