"""Forged or impossible days: reported with their reason and left out of the periods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from passerelle.drivers.cpap.observance import Tier, compute_periods
from passerelle.drivers.cpap.plausibility import day_problems
from passerelle.drivers.cpap.problems import ProblemCode
from passerelle.drivers.cpap.resmed import read_card
from passerelle.simulators.cpap.card import WrittenCard, write_card
from passerelle.simulators.cpap.mutate import forge
from passerelle.simulators.cpap.profile import BUILTIN


def poor_card(tmp_path: Path) -> WrittenCard:
    """Four weeks of little use (a TL3 period), the kind of card a forger would want to lift."""
    return write_card(replace(BUILTIN["poor"], days=28, datalog_nights=0), tmp_path / "card", with_csv=False)


def forged(card: WrittenCard, record: int, label: str, values: list[int]) -> None:
    path = card.root / "STR.edf"
    path.write_bytes(forge(path.read_bytes(), record, label, values))
    (card.root / "STR.crc").unlink(missing_ok=True)  # the forger drops the side file too


def test_forged_duration_with_recomputed_crc_cannot_lift_the_tier(tmp_path: Path) -> None:
    card = poor_card(tmp_path)
    honest = compute_periods(read_card(card.root).days)
    assert honest[0].tier is Tier.TL3
    used = next(i for i, n in enumerate(card.nights) if n.usage_minutes)
    forged(card, used, "Duration", [32767])  # 546 h in one day, checksum recomputed

    read = read_card(card.root)
    periods = compute_periods(read.days, excluded=read.excluded)
    assert periods[0].tier is Tier.TL3
    assert periods[0].minutes == honest[0].minutes - card.nights[used].usage_minutes
    day = card.nights[used].day
    assert [x.day for x in periods[0].days_excluded] == [day]
    assert "usage 32767 min outside 0..1440" in periods[0].days_excluded[0].reason
    problem = next(p for p in read.problems if p.code is ProblemCode.IMPLAUSIBLE_DAY)
    assert problem.message.startswith(f"{day}: usage 32767 min")
    assert ProblemCode.RECORD_CRC_MISMATCH not in {p.code for p in read.problems}


def test_duration_that_the_sessions_do_not_add_up_to(tmp_path: Path) -> None:
    card = poor_card(tmp_path)
    used = next(i for i, n in enumerate(card.nights) if n.usage_minutes and n.usage_minutes < 600)
    forged(card, used, "Duration", [1400])  # within a day, but the mask on/off slots say otherwise
    read = read_card(card.root)
    assert [x.day for x in read.excluded] == [card.nights[used].day]
    assert "mask on/off sessions add up to" in read.excluded[0].reason


def test_negative_usage_ahi_and_leak_out_of_scale(tmp_path: Path) -> None:
    card = poor_card(tmp_path)
    used = [i for i, n in enumerate(card.nights) if n.usage_minutes][:3]
    forged(card, used[0], "Duration", [-30])
    forged(card, used[1], "AHI", [2500])  # 250 events/h: above the machine's own scale
    forged(card, used[2], "Leak.95", [-7])
    read = read_card(card.root)
    reasons = {x.day: x.reason for x in read.excluded}
    assert set(reasons) == {card.nights[i].day for i in used}
    assert "usage -30 min" in reasons[card.nights[used[0]].day]
    assert "AHI 250.0 outside 0..240" in reasons[card.nights[used[1]].day]
    assert "leak -8.4 outside 0..120" in reasons[card.nights[used[2]].day]
    assert {x.day for x in read.excluded}.isdisjoint(d.day for d in read.days)


def test_mask_times_past_the_next_noon(tmp_path: Path) -> None:
    card = poor_card(tmp_path)
    used = next(i for i, n in enumerate(card.nights) if n.usage_minutes)
    forged(card, used, "MaskOff", [2000])
    read = read_card(card.root)
    assert "mask on/off time(s) [2000] outside 0..1440" in read.excluded[0].reason


def test_every_bound_in_words() -> None:
    assert day_problems(0, 0, None, None) == []
    assert day_problems(1440, 20, 240.0, 120.0) == []
    assert day_problems(1441, 0, None, None) == ["usage 1441 min outside 0..1440"]
    assert day_problems(61, 11, None, None, [(-1, -1)] * 10) == [
        "11 sessions outside 0..10",
        "usage 61 min but its mask on/off sessions add up to 0 min",
    ]
    assert day_problems(420, 1, None, None, [(600, 1020)] + [(-1, -1)] * 9) == []
    assert day_problems(480, 1, None, None, [(600, 1020)] + [(-1, -1)] * 9) == []  # a clock change
    assert day_problems(10, 1, float("nan"), None) == ["AHI nan outside 0..240 events/h"]


def test_airsense11_day_with_fourteen_sessions(tmp_path: Path) -> None:
    """A real AirSense 11 card used 14 of its 20 slots in one day: plausible, all counted."""
    card = write_card(replace(BUILTIN["as11"], days=28, datalog_nights=0), tmp_path / "card", with_csv=False)
    used = next(i for i, n in enumerate(card.nights) if n.usage_minutes)
    on = [600 + 40 * k for k in range(14)]
    off = [start + 30 for start in on]
    forged(card, used, "MaskOn", on + [-1] * 6)
    forged(card, used, "MaskOff", off + [-1] * 6)
    forged(card, used, "Duration", [14 * 30])
    read = read_card(card.root)
    assert read.problems == []
    day = next(d for d in read.days if d.day == card.nights[used].day)
    assert (day.sessions, day.usage_minutes) == (14, 420)
