"""Alert sink: receives what Alertmanager would send to Slack, PagerDuty or a webhook, records
it, and shows it the way Slack and PagerDuty would, for people (GET /) and tests
(GET /api/notifications). Records are JSON lines on a volume: they survive a restart.
Malformed payloads get the integration's 400 and are kept for inspection.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

from rvlocal.backend import notifications, sink_pages


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def all(self) -> list[dict]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]


def create_app(data_dir: Path | None = None, runbooks_dir: Path | None = None) -> FastAPI:
    data_dir = Path(data_dir or os.environ.get("SINK_DATA_DIR", "/data"))
    runbooks_dir = Path(runbooks_dir or os.environ.get("SINK_RUNBOOKS_DIR", "/runbooks"))
    store = Store(data_dir / "notifications.jsonl")
    app = FastAPI(title="rvlocal alert sink")

    async def receive(request: Request, parse) -> tuple[dict | None, str]:
        """(record, "") when the payload is valid, else (None, why); both are kept."""
        raw = await request.body()
        try:
            record = parse(json.loads(raw))
        except (ValueError, notifications.Invalid) as exc:
            store.append({"received_at": time.time(), "kind": "malformed", "path": request.url.path,
                          "error": str(exc), "body": raw.decode("utf-8", "replace")[:10000]})
            return None, str(exc)
        store.append(record)
        return record, ""

    @app.post("/slack/{channel}")
    async def slack(channel: str, request: Request):
        record, error = await receive(request, lambda body: notifications.slack_record(channel, body))
        if record is None:  # Slack answers 400 with a short error code
            code = error.split(":")[0] if error.startswith("no_text") else "invalid_payload"
            return PlainTextResponse(code, status_code=400)
        return PlainTextResponse("ok")

    @app.post("/v2/enqueue")
    async def pagerduty(request: Request):
        record, error = await receive(request, notifications.pagerduty_record)
        if record is None:
            return JSONResponse({"status": "invalid event", "message": "Event object is invalid",
                                 "errors": error.split("; ")}, status_code=400)
        return JSONResponse({"status": "success", "message": "Event processed",
                             "dedup_key": record["dedup_key"]}, status_code=202)

    @app.post("/webhook")
    async def webhook(request: Request):
        record, error = await receive(request, notifications.webhook_record)
        if record is None:
            return JSONResponse({"error": error}, status_code=400)
        return JSONResponse({"status": "recorded"})

    def matching(receiver: str, alertname: str, status: str, kind: str) -> list[dict]:
        return [r for r in store.all()
                if (not receiver or r.get("receiver") == receiver)
                and (not alertname or alertname in r.get("alertnames", []))
                and (not status or r.get("status") == status)
                and (not kind or r.get("kind") == kind)]

    @app.get("/api/notifications")
    def api(receiver: str = "", alertname: str = "", status: str = "", kind: str = "") -> list[dict]:
        return matching(receiver, alertname, status, kind)

    @app.get("/", response_class=HTMLResponse)
    def page(receiver: str = "", alertname: str = "", status: str = "", kind: str = "") -> str:
        return sink_pages.notifications_page(list(reversed(matching(receiver, alertname, status, kind))))

    @app.get("/runbooks/{name}", response_class=HTMLResponse)
    def runbook(name: str):
        path = runbooks_dir / f"{name}.md"
        known = sorted(p.stem for p in runbooks_dir.glob("*.md")) if runbooks_dir.is_dir() else []
        if name not in known:
            return HTMLResponse(sink_pages.missing_runbook(name, known), status_code=404)
        return sink_pages.runbook_page(name, path.read_text(encoding="utf-8"))

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    return app
