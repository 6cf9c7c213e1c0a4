"""Error-budget burn over history, per SLO of alerts/slos.yaml: the burn rate over each alert
window, and when the multi-window multi-burn-rate alerts would have paged or opened a ticket."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rvlocal import slo, tuning


@dataclass
class BurnHistory:
    slo: str
    objective: float
    budget: float
    times: np.ndarray
    burn: dict[str, np.ndarray]  # window → burn rate (error ratio / budget)
    page: np.ndarray             # bool per step
    ticket: np.ndarray

    def episodes(self, kind: str) -> list[dict]:
        mask = self.page if kind == "page" else self.ticket
        starts, ends = tuning.runs(mask)
        step = float(self.times[1] - self.times[0]) if len(self.times) > 1 else 0.0
        return [{"kind": kind, "start": float(self.times[s]), "end": float(self.times[e - 1] + step),
                 "minutes": round((e - s) * step / 60, 1)} for s, e in zip(starts, ends)]


def burn_history(project, prom, slo_name: str, start: float, end: float, step: float = 60.0) -> BurnHistory:
    spec = slo.load_spec(project.root / "alerts" / "slos.yaml")
    target = next((s for s in spec.slos if s.name == slo_name), None)
    if target is None:
        from rvlocal.errors import RvlocalError
        raise RvlocalError(f"no SLO {slo_name!r} in alerts/slos.yaml", "Known: " + ", ".join(s.name for s in spec.slos))
    budget = float(slo.error_budget(target.objective))
    times, burn = None, {}
    for window in slo.SLI_WINDOWS:
        times, series = tuning.fetch(prom, slo._sli_expr(target, window), start, end, step)
        values = next(iter(series.values()), np.full(len(times), np.nan))
        burn[window] = values / budget

    def over(window: str, factor: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.nan_to_num(burn[window], nan=0.0) > factor

    page = np.zeros(len(times), bool)
    for factor, short, long in slo.PAGE_WINDOWS:
        page |= over(short, factor) & over(long, factor)
    ticket = np.zeros(len(times), bool)
    for factor, short, long in slo.TICKET_WINDOWS:
        ticket |= over(short, factor) & over(long, factor)
    return BurnHistory(slo_name, target.objective, budget, times, burn, page, ticket)
