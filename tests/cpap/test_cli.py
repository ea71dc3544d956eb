"""``passerelle observance`` and ``passerelle simulate cpap`` as real commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from passerelle.drivers.cpap.observance import format_hours
from passerelle.simulators.cpap.profile import BUILTIN


def passerelle(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "passerelle.daemon.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_simulate_then_observance_json_and_plot(tmp_path: Path) -> None:
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"base": "borderline", "days": 400, "first_day": "2025-01-06"}))
    sim = passerelle("simulate", "cpap", "--profile", str(profile), str(tmp_path / "RESMED"))
    assert sim.returncode == 0, sim.stderr
    assert (tmp_path / "RESMED" / "STR.edf").is_file()
    assert (tmp_path / "RESMED-export.csv").is_file()

    out = passerelle("observance", str(tmp_path / "RESMED"), "--json", "--plot", str(tmp_path / "u.png"))
    assert out.returncode == 0, out.stderr
    report: dict[str, Any] = json.loads(out.stdout)
    assert set(report) == {"device", "days", "periods", "renewal", "problems"}
    assert report["device"] == {
        "serial": BUILTIN["borderline"].serial,
        "model": "AirSense 10 AutoSet",
        "product_code": "37028",
    }
    assert len(report["days"]) == 400
    assert set(report["days"][0]) == {"date", "usage_minutes", "sessions", "ahi", "leak_95"}
    assert set(report["periods"][0]) == {
        "start", "end", "minutes", "hours", "tier", "lpp_code", "complete", "days_excluded"
    }  # fmt: skip
    for p in report["periods"]:  # exact minutes beside the truncated hours
        assert isinstance(p["minutes"], int)
        assert f"{p['hours']:.2f}" == format_hours(p["minutes"])
        assert p["days_excluded"] == []
    assert report["periods"][0]["start"] == "2025-01-06"
    assert isinstance(report["periods"][0]["hours"], float)
    assert [p["complete"] for p in report["periods"]] == [True] * 14 + [False]
    assert set(report["renewal"]) == {
        "eligible", "periods_considered", "periods_at_least_112h", "periods_at_least_56h", "reason"
    }  # fmt: skip
    assert report["renewal"]["periods_considered"] == 12
    assert report["problems"] == []
    png = (tmp_path / "u.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000

    # The export of the same patient gives the same periods.
    csv = passerelle("observance", str(tmp_path / "RESMED-export.csv"), "--json")
    assert csv.returncode == 0, csv.stderr
    from_csv = json.loads(csv.stdout)
    assert from_csv["periods"] == report["periods"]

    # Anchored elsewhere, without telemonitoring, as a table.
    table = passerelle("observance", str(tmp_path / "RESMED"), "--start", "2025-01-20", "--not-telemonitored")
    assert table.returncode == 0, table.stderr
    assert "2025-01-20" in table.stdout
    assert "NT" in table.stdout
    assert "Renewal" in table.stdout


def test_observance_reports_problems(tmp_path: Path) -> None:
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "STR.edf").write_bytes(b"garbage" * 10)
    out = passerelle("observance", str(tmp_path / "card"), "--json")
    report = json.loads(out.stdout)
    assert out.returncode == 1
    assert {p["code"] for p in report["problems"]} >= {"str_unreadable", "identification_missing"}


def test_simulate_rejects_unknown_profile(tmp_path: Path) -> None:
    out = passerelle("simulate", "cpap", "--profile", "nope", str(tmp_path / "x"))
    assert out.returncode == 2
    assert "bad profile" in out.stderr
