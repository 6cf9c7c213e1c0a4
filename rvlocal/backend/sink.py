"""Alert sink: records every notification Alertmanager delivers, for people and tests.

Minimal for the stack (generic webhook); the alerting work adds Slack and PagerDuty shapes.
Records are appended to a JSON-lines file on a volume, so they survive a restart.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def create_app(data_dir: Path | None = None) -> FastAPI:
    data_dir = Path(data_dir or os.environ.get("SINK_DATA_DIR", "/data"))
    data_dir.mkdir(parents=True, exist_ok=True)
    store = data_dir / "notifications.jsonl"
    lock = threading.Lock()
    app = FastAPI(title="rvlocal alert sink")

    def append(record: dict) -> None:
        with lock, store.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def load() -> list[dict]:
        if not store.exists():
            return []
        with store.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    @app.post("/webhook")
    async def webhook(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            payload = json.loads(body)
            alerts = payload["alerts"]
            names = sorted({a.get("labels", {}).get("alertname", "") for a in alerts})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            append({"received_at": time.time(), "kind": "malformed", "error": str(exc),
                    "body": body.decode("utf-8", "replace")[:10000]})
            return JSONResponse({"error": f"not an Alertmanager webhook payload: {exc}"}, 400)
        append({"received_at": time.time(), "kind": "webhook",
                "receiver": payload.get("receiver", ""), "status": payload.get("status", ""),
                "alertnames": names, "payload": payload})
        return JSONResponse({"status": "recorded"})

    @app.get("/api/notifications")
    def notifications(receiver: str = "", alertname: str = "", status: str = "") -> list[dict]:
        out = []
        for r in load():
            if receiver and r.get("receiver") != receiver:
                continue
            if alertname and alertname not in r.get("alertnames", []):
                continue
            if status and r.get("status") != status:
                continue
            out.append(r)
        return out

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app

