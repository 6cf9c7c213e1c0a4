"""The backend's settings, read from the environment once, when an app is created.

Production's env file names the service with DD_SERVICE/DD_ENV/DD_VERSION; those map onto the
OpenTelemetry resource, with OTEL_* and RV_* taking precedence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from rvlocal import __version__


@dataclass(frozen=True)
class OcrSettings:
    provider: str = "simulated"
    # Log-normal latency: median 3 s, sigma 0.6 → p90 ≈ 6.5 s, well under the 15 s OCR SLO.
    median_seconds: float = 3.0
    sigma: float = 0.6
    failure_rate: float = 0.002
    # Confidence ~ Beta(a, b): mean a/(a+b) ≈ 0.91.
    confidence_alpha: float = 20.0
    confidence_beta: float = 2.0


@dataclass(frozen=True)
class Settings:
    service: str = "receipt-vault-backend"
    environment: str = "local"
    version: str = __version__
    data_dir: Path = Path("/data")
    otlp_traces_url: str = ""  # empty: spans are still created (ids in logs) but not exported
    admin_token: str = ""  # empty: the admin API refuses every call
    instrumentation: bool = True  # off only for benchmarks/backend_overhead.py
    # Traces recorded per second (Datadog's default rate limit); 0 records every trace.
    traces_per_second: float = 100.0
    max_image_bytes: int = 5 * 1024 * 1024
    min_free_disk_bytes: int = 50 * 1024 * 1024
    ocr: OcrSettings = field(default_factory=OcrSettings)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env

        def first(*names: str, default: str) -> str:
            return next((env[n] for n in names if env.get(n)), default)

        ocr = OcrSettings(
            provider=first("RV_OCR_PROVIDER", default=OcrSettings.provider),
            median_seconds=float(first("RV_OCR_MEDIAN_SECONDS", default=str(OcrSettings.median_seconds))),
            sigma=float(first("RV_OCR_SIGMA", default=str(OcrSettings.sigma))),
            failure_rate=float(first("RV_OCR_FAILURE_RATE", default=str(OcrSettings.failure_rate))),
        )
        return cls(
            service=first("OTEL_SERVICE_NAME", "DD_SERVICE", "RV_SERVICE", default=cls.service),
            environment=first("RV_ENV", "DD_ENV", default=cls.environment),
            version=first("DD_VERSION", "RV_VERSION", default=cls.version),
            data_dir=Path(first("RV_DATA_DIR", default="/data")),
            otlp_traces_url=_traces_url(env),
            admin_token=_read_token(env),
            traces_per_second=float(first("RV_TRACES_PER_SECOND", default=str(cls.traces_per_second))),
            instrumentation=first("RV_INSTRUMENTATION", default="on").lower() not in ("off", "0", "false"),
            ocr=ocr,
        )


def _read_token(env: Mapping[str, str]) -> str:
    """RV_ADMIN_TOKEN_FILE (a compose secret) wins over RV_ADMIN_TOKEN."""
    path = env.get("RV_ADMIN_TOKEN_FILE")
    if path and Path(path).exists():
        return Path(path).read_text(encoding="utf-8").strip()
    return env.get("RV_ADMIN_TOKEN", "").strip()


def _traces_url(env: Mapping[str, str]) -> str:
    """OTel's rules: the per-signal variable is the full URL, the general one a base URL."""
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    return f"{base.rstrip('/')}/v1/traces" if base else ""
