"""The chart a provider sends to the prescriber: daily use, the 4 h line and each period's tier."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

EPOCH = date(1970, 1, 1)


def _num(day: date) -> float:
    return float((day - EPOCH).days)


TIER_COLOURS = {"1": "#2e7d32", "2": "#f9a825", "3": "#c62828"}


def plot_report(report: dict[str, Any], out: Path) -> None:
    import matplotlib.pyplot as plt

    fig = build_figure(report)
    fig.savefig(out)
    plt.close(fig)


def build_figure(report: dict[str, Any]) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    days = report["days"]
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=110)
    xs = [_num(date.fromisoformat(d["date"])) for d in days]
    hours = [d["usage_minutes"] / 60 for d in days]
    colours = ["#1565c0" if h >= 4 else "#90a4ae" for h in hours]
    ax.bar(xs, hours, width=0.9, color=colours, linewidth=0)
    ax.axhline(4, color="black", linestyle="--", linewidth=1, zorder=3)
    # The label sits outside the plot area, at the right end of the line: inside it, it would cover
    # whichever bar happens to be first.
    ax.annotate(
        "4 h",
        xy=(1.0, 4),
        xycoords=("axes fraction", "data"),
        xytext=(4, 0),
        textcoords="offset points",
        va="center",
        ha="left",
        fontsize=8,
    )
    top = max([*hours, 8.0]) + 1.5
    for p in report["periods"]:
        start = _num(date.fromisoformat(p["start"]))
        end = _num(date.fromisoformat(p["end"]) + timedelta(days=1))
        colour = TIER_COLOURS[p["tier"][-1]]
        ax.axvspan(
            start, end, ymin=(top - 1.0) / top, ymax=1, color=colour, alpha=0.85 if p["complete"] else 0.3
        )
        mid = start + (end - start) / 2
        ax.text(
            mid,
            top - 0.55,
            f"{p['tier']}\n{p['hours']:.2f} h",
            ha="center",
            va="center",
            fontsize=6,
            color="white",
        )
        ax.axvline(start, color="#bdbdbd", linewidth=0.5)
    ax.set_ylim(0, top)
    ax.set_ylabel("use per day (h)")
    dev = report["device"]
    r = report["renewal"]
    verdict = "renewal without DAP" if r["eligible"] else "DAP required"
    ax.set_title(
        f"CPAP {dev.get('model') or ''} {dev.get('serial') or ''}: {verdict} "
        f"({r['periods_at_least_112h']}/12 periods >= 112 h, {r['periods_at_least_56h']}/12 >= 56 h)",
        fontsize=10,
    )
    ax.legend(
        handles=[Patch(color=TIER_COLOURS[k], label=f"tier {k}") for k in "123"],
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
        fontsize=8,
    )
    starts = [p["start"] for p in report["periods"]]
    ax.set_xticks([_num(date.fromisoformat(x)) for x in starts], starts, fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
