"""DATALOG shapes seen on real AirSense 10/11 cards, written by the simulator, read back."""

from __future__ import annotations

from collections import Counter

import edfio
import pytest

from passerelle.drivers.cpap.datalog import event_name
from passerelle.drivers.cpap.resmed import read_card
from passerelle.simulators.cpap.profile import NightTruth
from tests.unit.drivers.cpap.conftest import CardFactory


def expected_events(night: NightTruth) -> dict[str, int]:
    first_real = night.sessions[0][1]
    return dict(Counter(text for onset, _, text in night.events if onset < first_real * 60))


@pytest.mark.parametrize("profile", ["good", "as11"])
def test_short_sessions_leave_header_only_files_that_are_no_problem(
    make_card: CardFactory, profile: str
) -> None:
    card = make_card(profile, days=60, datalog_nights=12, short_session_probability=1.0)
    with_use = [n for n in card.nights if n.sessions][-12:]
    assert all(n.blips for n in with_use)
    header_only = [
        p for p in (card.root / "DATALOG").rglob("*.edf") if p.stat().st_size == int(p.read_bytes()[184:192])
    ]
    assert len(header_only) >= 12 * 3  # PLD, BRP and event file(s) of each short session
    read = read_card(card.root)
    assert read.problems == []  # no datalog_truncated for a session under a minute
    for n in with_use:
        detail = read.datalog[n.day]
        assert detail.sessions == len(n.sessions) + len(n.blips)
        assert detail.minutes == sum(real for _, real in n.sessions)


def test_a_truly_cut_file_is_still_truncated(make_card: CardFactory) -> None:
    card = make_card("good", days=10, datalog_nights=1, short_session_probability=0.0)
    pld = next((card.root / "DATALOG").rglob("*_PLD.edf"))
    raw = pld.read_bytes()
    pld.write_bytes(raw[: int(raw[184:192]) + 100])  # a header and part of one record
    read = read_card(card.root)
    assert [p.code.value for p in read.problems] == ["datalog_truncated"]


@pytest.mark.parametrize("profile", ["good", "as11"])
def test_events_are_normalised_and_recording_starts_is_not_one(make_card: CardFactory, profile: str) -> None:
    card = make_card(profile, days=30, datalog_nights=4)
    eve = sorted((card.root / "DATALOG").rglob("*_EVE.edf"))
    texts = Counter(a.text for p in eve for a in edfio.read_edf(p).annotations)
    assert texts["Recording starts"] == len(eve)  # first annotation of every event file
    if profile == "as11":
        assert texts["Obstructive apnea"] + texts["Central apnea"] > 0  # the AirSense 11 spelling
        assert texts["Obstructive Apnea"] + texts["Central Apnea"] == 0
        assert len(list((card.root / "DATALOG").rglob("*_CSL.edf"))) == len(eve)
    read = read_card(card.root)
    for n in [n for n in card.nights if n.sessions][-4:]:
        assert read.datalog[n.day].events == expected_events(n)


def test_event_files_stamped_before_the_session_count_once(make_card: CardFactory) -> None:
    card = make_card("as11", days=30, datalog_nights=4, short_session_probability=0.0)
    read = read_card(card.root)
    for n in [n for n in card.nights if n.sessions][-4:]:
        assert read.datalog[n.day].sessions == len(n.sessions)


def test_event_name_spellings() -> None:
    assert event_name("Recording starts") is None
    assert event_name("Obstructive apnea") == "Obstructive Apnea"
    assert event_name("central  APNEA ") == "Central Apnea"
    assert event_name("Hypopnea") == "Hypopnea"
    assert event_name("Something New") == "Something New"  # unknown kinds are kept, not dropped
    assert event_name("  ") is None
