"""``passerelle observance PATH`` (``passerelle simulate cpap`` is in simulators/cpap/)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from passerelle.daemon.family import CliCommands
from passerelle.drivers.cpap.config import CpapSection
from passerelle.drivers.cpap.exports import CsvMapping, read_export
from passerelle.drivers.cpap.observance import DayUsage, format_hours
from passerelle.drivers.cpap.plausibility import ExcludedDay
from passerelle.drivers.cpap.problems import Problem


def add_commands(commands: CliCommands) -> None:
    obs = commands.top.add_parser(
        "observance", help="French observance (28-day periods, forfaits, renewal) of an SD card or export"
    )
    obs.add_argument("path", type=Path, help="SD-card folder (with STR.edf) or CSV export file")
    obs.add_argument("--start", type=date.fromisoformat, help="period anchor (start of coverage), YYYY-MM-DD")
    obs.add_argument("--json", action="store_true", help="machine-readable output")
    obs.add_argument("--plot", type=Path, metavar="FILE.png", help="draw daily usage and period tiers")
    obs.add_argument("--not-telemonitored", action="store_true", help="NT1-3 codes instead of TL1-3")
    obs.add_argument("--boundary", choices=["resmed_day", "calendar_midnight"], default="resmed_day")
    obs.add_argument("--serial", help="export files: the device serial to report (default: the first)")
    obs.set_defaults(handler=cmd_observance)


def build_report(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    # Imported here, not at the top: every ``passerelle`` command builds the parser (and so imports
    # this module), and the card reader pulls in numpy and edfio.
    from passerelle.drivers.cpap.feed import observe
    from passerelle.drivers.cpap.resmed import read_card

    problems: list[Problem]
    patient: str | None = None
    excluded: list[ExcludedDay] = []
    if path.is_dir():
        card = read_card(path)
        problems = card.problems
        ident = card.identity
        device = {
            "serial": ident.serial if ident else None,
            "model": ident.model if ident else None,
            "product_code": ident.product_code if ident else None,
        }
        days: list[DayUsage] = card.days
        excluded = card.excluded
    else:
        export = read_export(path, CsvMapping())
        problems = export.problems
        serial = args.serial or next(iter(export.devices), None)
        dev = export.devices.get(serial) if serial else None
        device = {"serial": serial, "model": None, "product_code": None}
        days = list(dev.days.values()) if dev else []
        patient = dev.patient_ref if dev else None
    section = CpapSection(
        period_start=args.start, telemonitored=not args.not_telemonitored, boundary_rule=args.boundary
    )
    periods, renewal = observe(
        days, section, device["serial"] or "", patient, excluded
    )  # --start is period_start
    return {
        "device": device,
        "days": [
            {
                "date": d.day.isoformat(),
                "usage_minutes": d.usage_minutes,
                "sessions": d.sessions,
                "ahi": d.ahi,
                "leak_95": d.leak_95,
            }
            for d in days
        ],
        "periods": [
            {
                "start": p.start.isoformat(),
                "end": p.end.isoformat(),
                "minutes": p.minutes,  # exact; hours below is for display
                "hours": float(p.hours),  # truncated to the hundredth: 111.99 never shows as 112
                "tier": p.tier.value,
                "lpp_code": p.lpp_code,
                "complete": p.complete,
                "days_excluded": [{"date": x.day.isoformat(), "reason": x.reason} for x in p.days_excluded],
            }
            for p in periods
        ],
        "renewal": {
            "eligible": renewal.eligible,
            "periods_considered": renewal.periods_considered,
            "periods_at_least_112h": renewal.periods_at_least_112h,
            "periods_at_least_56h": renewal.periods_at_least_56h,
            "reason": renewal.reason,
        },
        "problems": [
            {"code": p.code.value, "file": p.file, "line": p.line, "message": p.message} for p in problems
        ],
    }


def render_table(report: dict[str, Any]) -> str:
    dev = report["device"]
    lines = [
        f"Device   {dev['serial'] or '?'}  {dev['model'] or ''}  (product code {dev['product_code'] or '?'})",
    ]
    days = report["days"]
    if days:
        used = sum(1 for d in days if d["usage_minutes"] >= 240)
        total = sum(d["usage_minutes"] for d in days)
        lines.append(
            f"Days     {len(days)} ({days[0]['date']} .. {days[-1]['date']}), {used} with >= 4 h, "
            f"{format_hours(total)} h in total"
        )
    lines += ["", f"{'#':>3}  {'start':10}  {'end':10}  {'hours':>7}  tier  LPP      complete"]
    for i, p in enumerate(report["periods"]):
        lines.append(
            f"{i:>3}  {p['start']:10}  {p['end']:10}  {p['hours']:>7.2f}  {p['tier']:4}  {p['lpp_code']}  "
            f"{'yes' if p['complete'] else 'no'}"
        )
        lines += [f"     excluded {x['date']}: {x['reason']}" for x in p["days_excluded"]]
    r = report["renewal"]
    lines += [
        "",
        f"Renewal  {'ELIGIBLE without DAP' if r['eligible'] else 'DAP REQUIRED'}: "
        f"{r['periods_at_least_112h']}/{r['periods_considered']} periods >= 112 h, "
        f"{r['periods_at_least_56h']}/{r['periods_considered']} >= 56 h",
        f"         {r['reason']}",
    ]
    if report["problems"]:
        lines += ["", "Problems:"]
        for p in report["problems"]:
            where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
            lines.append(f"  {p['code']:24} {where}: {p['message']}")
    return "\n".join(lines)


def cmd_observance(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        print(f"observance: {path} does not exist", file=sys.stderr)
        return 2
    try:
        report = build_report(path, args)
    except OSError as exc:  # the card was pulled out, or the medium fails: say so, no traceback
        print(f"observance: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.plot:
        from passerelle.drivers.cpap.plot import plot_report

        plot_report(report, args.plot)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print(render_table(report))
    return 0 if report["days"] or not report["problems"] else 1
