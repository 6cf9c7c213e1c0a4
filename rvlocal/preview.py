"""What a dashboard will show, without Grafana: each Prometheus panel's queries over a range,
drawn with matplotlib in a grid (title, unit, thresholds), saved as one PNG per dashboard."""

from __future__ import annotations

import math
import re
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from rvlocal import dashboards  # noqa: E402

DRAWN = {"timeseries", "stat", "gauge", "bargauge", "heatmap"}
THRESHOLD_COLOURS = {"green": "#56a64b", "yellow": "#f2cc0c", "orange": "#ff9830", "red": "#e02f44"}


def _format(unit: str):
    def fmt(value, _pos=None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if unit == "percentunit":
            return f"{value * 100:.3g}%"
        if unit == "s":
            return f"{value * 1000:.3g}ms" if abs(value) < 1 else f"{value:.3g}s"
        if unit == "bytes":
            for size, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
                if abs(value) >= size:
                    return f"{value / size:.3g}{suffix}"
            return f"{value:.0f}B"
        if unit == "reqps":
            return f"{value:.3g} req/s"
        if unit == "ops":
            return f"{value:.3g}/s"
        return f"{value:.3g}"
    return fmt


def _series(prom, expr: str, start: datetime, end: datetime, step: str) -> list[tuple[dict, list, list]]:
    out = []
    for s in prom.custom_query_range(expr, start_time=start, end_time=end, step=step):
        xs = [datetime.fromtimestamp(float(t)) for t, _ in s["values"]]
        ys = [float(v) for _, v in s["values"]]
        out.append((s["metric"], xs, ys))
    return out


def _legend(template: str, labels: dict) -> str:
    """Grafana's legendFormat: {{label}} replaced, a missing label empty."""
    if template:
        text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template).strip()
    else:
        text = ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")
    return text or "value"


def render(dashboard_path: Path, prom, start: datetime, end: datetime, out: Path, step: str = "60s") -> tuple[Path, int]:
    """Draw every Prometheus panel; returns (png, number of panels with no data)."""
    board = dashboards.load(dashboard_path)
    raw = {p.get("id"): p for p in dashboards._panels(board.raw.get("panels", []))}
    panels = [p for p in board.panels if p.type in DRAWN and p.is_prometheus]
    cols = 3
    rows = max(1, math.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(6 * cols, 3.2 * rows), squeeze=False)
    empty = 0
    for ax, panel in zip(axes.flat, panels):
        defaults = raw[panel.id].get("fieldConfig", {}).get("defaults", {})
        unit = defaults.get("unit", "short")
        drawn = 0
        for target in panel.targets:
            legend = next((t.get("legendFormat", "") for t in raw[panel.id].get("targets", [])
                           if t.get("refId") == target.ref), "")
            for labels, xs, ys in _series(prom, dashboards.substitute(target.expr), start, end, step):
                ax.plot(xs, ys, linewidth=1.2, label=_legend(legend, labels)[:40])
                drawn += 1
        for step_ in defaults.get("thresholds", {}).get("steps", [])[1:]:
            ax.axhline(step_["value"], linestyle="--", linewidth=0.8,
                       color=THRESHOLD_COLOURS.get(step_["color"], step_["color"]))
        ax.set_title(f"{panel.title}", fontsize=10, loc="left")
        ax.set_xlim(start, end)
        ax.yaxis.set_major_formatter(FuncFormatter(_format(unit)))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if drawn:
            if drawn <= 8:
                ax.legend(fontsize=6, loc="upper left")
        else:
            empty += 1
            ax.text(0.5, 0.5, "No data", ha="center", va="center", transform=ax.transAxes, color="#888")
    fig.autofmt_xdate()
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{board.title} — {start:%Y-%m-%d %H:%M} to {end:%H:%M}", fontsize=13, x=0.01, ha="left")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out, empty
