"""Fault injection: what the backend should get wrong, and until when.

Each fault has a neutral value (no fault) and may carry an expiry; an expired fault reads as
neutral. The admin API takes `{"error_rate": 0.3}` or `{"error_rate": {"value": 0.3,
"for_seconds": 300}}` and changes only the faults it names.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

NEUTRAL: dict[str, Any] = {
    "error_rate": 0.0,
    "extra_latency_ms": 0.0,
    "ocr_failure_rate": 0.0,
    "ocr_latency_multiplier": 1.0,
    "readiness_down": False,
}

T = TypeVar("T")
MAX_FOR_SECONDS = 7 * 24 * 3600


class _Timed(BaseModel, Generic[T]):
    model_config = ConfigDict(extra="forbid")
    value: T
    for_seconds: float | None = Field(default=None, gt=0, le=MAX_FOR_SECONDS,
                                      description="Revert to the neutral value after this long.")

    @model_validator(mode="before")
    @classmethod
    def bare_value(cls, data: Any) -> Any:
        return data if isinstance(data, dict) else {"value": data}


class Rate(_Timed[float]):
    value: float = Field(ge=0.0, le=1.0, description="A probability from 0 to 1.")


class LatencyMs(_Timed[float]):
    value: float = Field(ge=0.0, le=60_000, description="Milliseconds added to every API request.")


class Multiplier(_Timed[float]):
    value: float = Field(gt=0.0, le=100.0, description="Factor on the simulated OCR latency.")


class Flag(_Timed[bool]):
    value: bool


class FaultUpdate(BaseModel):
    """Body of PUT /admin/faults: only the faults named change."""
    model_config = ConfigDict(extra="forbid")
    error_rate: Rate | None = None
    extra_latency_ms: LatencyMs | None = None
    ocr_failure_rate: Rate | None = None
    ocr_latency_multiplier: Multiplier | None = None
    readiness_down: Flag | None = None


class Faults:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._active: dict[str, tuple[Any, float | None]] = {}

    def value(self, name: str) -> Any:
        entry = self._active.get(name)
        if entry is None:
            return NEUTRAL[name]
        value, expires_at = entry
        if expires_at is not None and self._clock() >= expires_at:
            self._active.pop(name, None)
            return NEUTRAL[name]
        return value

    def apply(self, update: FaultUpdate) -> None:
        now = self._clock()
        for name in NEUTRAL:
            timed = getattr(update, name)
            if timed is None:
                continue
            if timed.value == NEUTRAL[name]:
                self._active.pop(name, None)
            else:
                expires = now + timed.for_seconds if timed.for_seconds else None
                self._active[name] = (timed.value, expires)

    def clear(self) -> None:
        self._active.clear()

    def snapshot(self) -> dict[str, dict[str, Any]]:
        now = self._clock()
        out = {}
        for name in NEUTRAL:
            value = self.value(name)
            _, expires_at = self._active.get(name, (None, None))
            out[name] = {
                "value": value,
                "active": value != NEUTRAL[name],
                "expires_at": _iso(expires_at) if expires_at else None,
                "remaining_seconds": round(expires_at - now, 1) if expires_at else None,
            }
        return out


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
