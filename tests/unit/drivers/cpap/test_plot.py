"""The prescriber's chart: the 4 h label must not sit on a bar."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.patches import Rectangle

from passerelle.drivers.cpap.plot import build_figure


def report(hours_per_day: float, days: int = 56) -> dict[str, Any]:
    start = date(2026, 1, 5)
    return {
        "device": {"serial": "23201234567", "model": "AirSense 10 AutoSet"},
        "days": [
            {"date": (start + timedelta(days=i)).isoformat(), "usage_minutes": int(hours_per_day * 60)}
            for i in range(days)
        ],
        "periods": [
            {
                "start": (start + timedelta(days=28 * k)).isoformat(),
                "end": (start + timedelta(days=28 * k + 27)).isoformat(),
                "hours": hours_per_day * 28,
                "tier": "TL1",
                "complete": True,
            }
            for k in range(days // 28)
        ],
        "renewal": {"eligible": False, "periods_at_least_112h": 2, "periods_at_least_56h": 2},
    }


def test_four_hour_label_overlaps_no_bar() -> None:
    fig = build_figure(report(8.0))  # every bar, the first included, rises through the 4 h line
    try:
        fig.canvas.draw()
        ax = fig.axes[0]
        label = next(t for t in ax.texts if t.get_text() == "4 h")
        box = label.get_window_extent()
        bars = [p for p in ax.containers[0] if isinstance(p, Rectangle)]  # the daily bars
        assert len(bars) == 56
        assert not any(box.overlaps(b.get_window_extent()) for b in bars)
        axes_box = ax.get_window_extent()
        assert box.x0 >= axes_box.x1  # outside the plot area, at the right end of the line
        line_y = ax.transData.transform((0, 4))[1]
        assert box.y0 <= line_y <= box.y1  # beside the line it names
    finally:
        plt.close(fig)
