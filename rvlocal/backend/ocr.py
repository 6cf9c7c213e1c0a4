"""A simulated OCR provider: log-normal latency, a confidence score, a failure probability."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date

from rvlocal.backend.settings import OcrSettings

FAILURE_REASONS = ("image_unreadable", "provider_timeout", "no_total_found")


@dataclass(frozen=True)
class OcrOutcome:
    ok: bool
    confidence: float | None = None
    merchant: str | None = None
    total: float | None = None
    date: str | None = None
    failure_reason: str | None = None


class SimulatedOcr:
    def __init__(self, settings: OcrSettings, rng: random.Random) -> None:
        self.settings = settings
        self.provider = settings.provider
        self._rng = rng

    def latency(self, multiplier: float = 1.0) -> float:
        s = self.settings
        return self._rng.lognormvariate(math.log(s.median_seconds), s.sigma) * multiplier

    def extract(self, merchant: str, amount: float, extra_failure_rate: float = 0.0) -> OcrOutcome:
        s = self.settings
        # Independent causes: the provider's own failures and the injected ones.
        failure = 1.0 - (1.0 - s.failure_rate) * (1.0 - extra_failure_rate)
        if self._rng.random() < failure:
            return OcrOutcome(ok=False, failure_reason=self._rng.choice(FAILURE_REASONS))
        confidence = self._rng.betavariate(s.confidence_alpha, s.confidence_beta)
        # Low confidence reads the total slightly wrong now and then, as real OCR does.
        total = amount if confidence > 0.8 or self._rng.random() < 0.5 else round(amount * 1.1, 2)
        return OcrOutcome(ok=True, confidence=round(confidence, 4), merchant=merchant.strip().upper(),
                          total=total, date=date.today().isoformat())
