"""Health as production defines it: /health with per-check detail, liveness, readiness."""

from __future__ import annotations

import shutil
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from rvlocal.backend.context import Backend


def checks(b: Backend) -> dict[str, dict]:
    out: dict[str, dict] = {}
    t0 = time.perf_counter()
    try:
        b.store.ping()
        out["database"] = {"status": "ok", "latency_ms": round((time.perf_counter() - t0) * 1000, 2)}
    except Exception as exc:  # noqa: BLE001 — any failure is the check's answer
        out["database"] = {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
    failing = b.faults.value("ocr_failure_rate") >= 1.0
    out["ocr_provider"] = {"status": "error" if failing else "ok", "provider": b.ocr.provider,
                           **({"error": "every OCR call fails"} if failing else {})}
    try:
        free = shutil.disk_usage(b.settings.data_dir).free
        low = free < b.settings.min_free_disk_bytes
        out["disk"] = {"status": "error" if low else "ok", "free_bytes": free,
                       **({"error": f"under {b.settings.min_free_disk_bytes} bytes free"} if low else {})}
    except OSError as exc:
        out["disk"] = {"status": "error", "error": str(exc)}
    return out


def router(b: Backend) -> APIRouter:
    health = APIRouter()

    @health.get("/health")
    def full() -> JSONResponse:
        detail = checks(b)
        ok = all(c["status"] == "ok" for c in detail.values())
        body = {"status": "healthy" if ok else "unhealthy", "checks": detail,
                "service": b.settings.service, "version": b.settings.version,
                "environment": b.settings.environment,
                "uptime_seconds": round(time.time() - b.started, 1)}
        return JSONResponse(body, status_code=200 if ok else 503)

    @health.get("/health/liveness")
    def liveness() -> dict:
        return {"status": "ok"}

    @health.get("/health/readiness")
    def readiness() -> JSONResponse:
        reasons = []
        if b.faults.value("readiness_down"):
            reasons.append("readiness_down fault injected")
        try:
            b.store.ping()
        except Exception as exc:  # noqa: BLE001
            reasons.append(f"database: {exc}")
        if reasons:
            return JSONResponse({"status": "not_ready", "reasons": reasons}, status_code=503)
        return JSONResponse({"status": "ready"})

    return health
