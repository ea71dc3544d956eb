"""Reading simulator-written ResMed cards back, quirks and damage included."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import edfio
import numpy as np

from passerelle.drivers.cpap.labels import canonical
from passerelle.drivers.cpap.problems import ProblemCode
from passerelle.drivers.cpap.resmed import read_card
from passerelle.simulators.cpap.profile import last_sunday
from tests.unit.drivers.cpap.conftest import CardFactory


def codes(problems: list) -> set[ProblemCode]:  # type: ignore[type-arg]
    return {p.code for p in problems}


def test_airsense10_reads_back_exact_usage(make_card: CardFactory) -> None:
    card = make_card("good")
    read = read_card(card.root)
    assert read.problems == []
    assert read.identity is not None
    assert (read.identity.serial, read.identity.model, read.identity.product_code) == (
        "23201234567",
        "AirSense 10 AutoSet",
        "37028",
    )
    assert [(d.day, d.usage_minutes) for d in read.days] == [(n.day, n.usage_minutes) for n in card.nights]
    assert [d.sessions for d in read.days] == [len(n.mask_on) for n in card.nights]


def test_str_layout_is_the_airsense10_one(make_card: CardFactory) -> None:
    card = make_card("good", days=30)
    edf = edfio.read_edf(card.root / "STR.edf")
    assert len(edf.signals) == 81
    assert sum(s.samples_per_data_record for s in edf.signals) == 99
    assert edf.data_record_duration == 86400
    assert edf.starttime.hour == 12
    raw = (card.root / "STR.edf").read_bytes()
    assert "°C".encode() in raw  # UTF-8 in the header
    hours = edf.get_signal("PatientHours")
    assert hours.digital_max == 65534


def test_unused_days_are_minus_one_and_read_as_none(make_card: CardFactory) -> None:
    card = make_card("poor", days=60)
    read = read_card(card.root)
    off = [d for d, n in zip(read.days, card.nights, strict=True) if not n.mask_on]
    assert off, "the poor profile has days without use"
    edf = edfio.read_edf(card.root / "STR.edf")
    ahi_raw = edf.get_signal("AHI").digital
    for d in off:
        i = (d.day - card.nights[0].day).days
        assert ahi_raw[i] == -1
        assert d.ahi is None  # never -0.1
        assert d.leak_95 is None
        assert d.usage_minutes == 0
    used = [d for d, n in zip(read.days, card.nights, strict=True) if n.mask_on and n.ahi_tenths]
    for d in used:
        n = card.nights[(d.day - card.nights[0].day).days]
        assert d.ahi == n.ahi_tenths / 10
        assert d.leak_95 == round(n.leak_95 * 0.02 * 60, 1)


def test_sessions_crossing_noon(make_card: CardFactory) -> None:
    card = make_card("good", cross_noon_probability=0.5, days=40)
    read = read_card(card.root)
    crossed = [i for i, n in enumerate(card.nights) if n.mask_on and n.mask_on[0] == -1]
    assert crossed
    edf = edfio.read_edf(card.root / "STR.edf")
    on = edf.get_signal("MaskOn").digital.reshape(-1, 10)
    off = edf.get_signal("MaskOff").digital.reshape(-1, 10)
    for i in crossed:
        assert on[i][0] == -1
        assert off[i][0] > 0  # slot 0: an off without an on
        assert off[i - 1][len(card.nights[i - 1].mask_on) - 1] == -1  # a last on without an off
        assert read.days[i].usage_minutes == card.nights[i].usage_minutes
    assert [d.usage_minutes for d in read.days] == [n.usage_minutes for n in card.nights]


def test_dst_nights_use_duration_not_wall_clock(make_card: CardFactory) -> None:
    card = make_card("good", first_day=date(2026, 3, 1), days=250, off_probability=0.0, seed=21)
    read = read_card(card.root)
    edf = edfio.read_edf(card.root / "STR.edf")
    on = edf.get_signal("MaskOn").digital.reshape(-1, 10).astype(int)
    off = edf.get_signal("MaskOff").digital.reshape(-1, 10).astype(int)
    spring = last_sunday(2026, 3) - timedelta(days=1)
    autumn = last_sunday(2026, 10) - timedelta(days=1)
    for day, delta in ((spring, 60), (autumn, -60)):
        i = (day - card.nights[0].day).days
        wall = sum(b - a for a, b in zip(on[i], off[i], strict=True) if a >= 0 and b >= 0)
        assert wall == card.nights[i].usage_minutes + delta
        assert read.days[i].usage_minutes == card.nights[i].usage_minutes


def test_airsense11_json_identification(make_card: CardFactory) -> None:
    card = make_card("as11", days=20)
    read = read_card(card.root)
    assert read.identity is not None
    assert read.identity.model == "AirSense 11 AutoSet"
    assert read.identity.product_code == "39483"
    assert (card.root / "Identification.json").exists()


def test_s9_french_labels(make_card: CardFactory) -> None:
    card = make_card("s9-french", days=60)
    edf = edfio.read_edf(card.root / "STR.edf")
    assert "Fuites 95" in edf.labels
    assert "IAH" in edf.labels
    read = read_card(card.root)
    assert read.problems == []
    assert [d.usage_minutes for d in read.days] == [n.usage_minutes for n in card.nights]
    assert any(d.leak_95 is not None for d in read.days)
    assert read.datalog  # S9: session files directly in DATALOG/
    assert not any(p.is_dir() for p in (card.root / "DATALOG").iterdir())


def test_label_table_prefix_and_case() -> None:
    assert canonical("MASK ON") == "mask_on"
    assert canonical("Fuites 95%") == "leak_95"
    assert canonical("Fuites") == "leak_50"
    assert canonical("fuites max.") == "leak_max"
    assert canonical("Pression max.") == "max_pressure"
    assert canonical("OnDuration") == "on_duration"
    assert canonical("Duration") == "duration"
    assert canonical("Unknown") is None


def test_datalog_summaries(make_card: CardFactory) -> None:
    card = make_card("good", days=30, datalog_nights=3)
    read = read_card(card.root)
    with_use = [n for n in card.nights if n.sessions][-3:]
    assert sorted(read.datalog) == [n.day for n in with_use]
    for n in with_use:
        detail = read.datalog[n.day]
        assert detail.sessions == len(n.sessions)
        assert detail.minutes == sum(real for _, real in n.sessions)
        first_real = n.sessions[0][1]
        assert sum(detail.events.values()) == sum(1 for e in n.events if e[0] < first_real * 60)


def test_corrupt_header_is_a_problem_and_the_rest_is_read(make_card: CardFactory) -> None:
    card = make_card("good", days=20)
    path = card.root / "STR.edf"
    raw = bytearray(path.read_bytes())
    raw[236:256] = b"garbage!" * 2 + b"zzzz"
    path.write_bytes(bytes(raw))
    read = read_card(card.root)
    assert ProblemCode.STR_UNREADABLE in codes(read.problems)
    assert ProblemCode.CRC_MISMATCH in codes(read.problems)
    assert read.days == []
    assert read.identity is not None
    assert read.datalog


def test_foreign_file(make_card: CardFactory) -> None:
    card = make_card("good", days=5)
    (card.root / "STR.edf").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    read = read_card(card.root)
    assert ProblemCode.STR_UNREADABLE in codes(read.problems)


def test_truncated_str(make_card: CardFactory) -> None:
    card = make_card("good", days=50)
    path = card.root / "STR.edf"
    raw = path.read_bytes()
    header = 256 * 82
    path.write_bytes(raw[: header + 198 * 30 + 77])
    read = read_card(card.root)
    problem = next(p for p in read.problems if p.code is ProblemCode.STR_TRUNCATED)
    assert "50" in problem.message
    assert "30" in problem.message
    assert [d.usage_minutes for d in read.days] == [n.usage_minutes for n in card.nights[:30]]


def test_wrong_record_crc_skips_that_day_only(make_card: CardFactory) -> None:
    card = make_card("good", days=40)
    path = card.root / "STR.edf"
    raw = bytearray(path.read_bytes())
    header = 256 * 82
    duration_offset = 2 * (1 + 10 + 10 + 1)
    raw[header + 198 * 12 + duration_offset] ^= 0x01
    path.write_bytes(bytes(raw))
    read = read_card(card.root)
    problem = next(p for p in read.problems if p.code is ProblemCode.RECORD_CRC_MISMATCH)
    bad_day = card.nights[12].day
    assert str(bad_day) in problem.message
    assert bad_day not in {d.day for d in read.days}
    assert len(read.days) == 39
    assert ProblemCode.CRC_MISMATCH in codes(read.problems)  # STR.crc no longer matches either


def test_empty_card_and_card_without_str(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert codes(read_card(empty).problems) == {ProblemCode.NOT_A_CARD}
    (empty / "DATALOG").mkdir()
    assert ProblemCode.STR_MISSING in codes(read_card(empty).problems)
    assert ProblemCode.IDENTIFICATION_MISSING in codes(read_card(empty).problems)


def test_missing_identification_falls_back_to_str_serial(make_card: CardFactory) -> None:
    card = make_card("good", days=5)
    (card.root / "Identification.tgt").unlink()
    read = read_card(card.root)
    assert read.identity is not None
    assert read.identity.serial == "23201234567"
    assert ProblemCode.IDENTIFICATION_MISSING in codes(read.problems)


def test_damaged_datalog_file(make_card: CardFactory) -> None:
    card = make_card("good", days=10)
    eve = next((card.root / "DATALOG").rglob("*_EVE.edf"))
    eve.write_bytes(b"not an edf")
    read = read_card(card.root)
    problem = next(p for p in read.problems if p.code is ProblemCode.DATALOG_UNREADABLE)
    assert problem.file.endswith("_EVE.edf")
    assert len(read.days) == 10


def test_record_crc_is_ccitt_false(make_card: CardFactory) -> None:
    card = make_card("good", days=3)
    raw = (card.root / "STR.edf").read_bytes()
    rec = np.frombuffer(raw[256 * 82 : 256 * 82 + 198], dtype="<u2")
    import binascii

    assert int(rec[-1]) == binascii.crc_hqx(raw[256 * 82 : 256 * 82 + 196], 0xFFFF)


def test_s9_english_old_labels(make_card: CardFactory) -> None:
    card = make_card("s9", days=40)
    labels = edfio.read_edf(card.root / "STR.edf").labels
    assert {"Mask On", "Mask Off", "Mask Dur", "Leak 95"} <= set(labels)
    read = read_card(card.root)
    assert read.problems == []
    assert [d.usage_minutes for d in read.days] == [n.usage_minutes for n in card.nights]


def test_date_signal_disagreeing_with_header_is_reported(make_card: CardFactory) -> None:
    import binascii

    card = make_card("good", days=20)
    path = card.root / "STR.edf"
    raw = bytearray(path.read_bytes())
    header, size = 256 * 82, 198
    off = header + size * 7  # the Date signal is the first sample of each record
    raw[off : off + 2] = (int.from_bytes(raw[off : off + 2], "little") + 3).to_bytes(2, "little")
    crc = binascii.crc_hqx(bytes(raw[off : off + size - 2]), 0xFFFF)  # keep the record valid
    raw[off + size - 2 : off + size] = crc.to_bytes(2, "little")
    path.write_bytes(bytes(raw))
    read = read_card(card.root)
    problem = next(p for p in read.problems if p.code is ProblemCode.DATE_MISMATCH)
    assert problem.message.startswith("1 record")
    assert ProblemCode.RECORD_CRC_MISMATCH not in codes(read.problems)
    assert read.days[7].day == card.nights[7].day  # the header start is authoritative


def test_truncated_datalog_file_keeps_its_complete_records(make_card: CardFactory) -> None:
    card = make_card("good", days=10, datalog_nights=1, short_session_probability=0.0)
    pld = next((card.root / "DATALOG").rglob("*_PLD.edf"))
    raw = pld.read_bytes()
    header = 256 * 9  # 7 signals + Crc16
    record = 2 * (7 * 30 + 1)
    pld.write_bytes(raw[: header + record * 5 + 11])
    read = read_card(card.root)
    problem = next(p for p in read.problems if p.code is ProblemCode.DATALOG_TRUNCATED)
    assert problem.file.endswith("_PLD.edf")
    night = next(
        n
        for n in card.nights
        if n.sessions and any(s[0].strftime("%Y%m%d_%H%M%S") in pld.name for s in n.sessions)
    )
    detail = read.datalog[night.day]
    assert (
        detail.minutes
        == sum(real for _, real in night.sessions)
        - next(real for start, real in night.sessions if start.strftime("%Y%m%d_%H%M%S") in pld.name)
        + 5
    )


def test_identification_json_of_the_wrong_shape(make_card: CardFactory) -> None:
    card = make_card("as11", days=5)
    (card.root / "Identification.json").write_text(
        '{"FlowGenerator": {"IdentificationProfiles": {"Product": "x"}}}'
    )
    read = read_card(card.root)
    assert ProblemCode.IDENTIFICATION_UNREADABLE in codes(read.problems)
    assert read.identity is not None and read.identity.serial == "22231234567"  # from the STR header
