"""Patient profiles and the nights they produce (the ground truth a card is written from)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

Model = Literal["AirSense10", "AirSense11", "S9"]
NOON = 12 * 60


def last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1) if month < 12 else date(year, 12, 31)
    return d - timedelta(days=(d.weekday() + 1) % 7)


@dataclass(frozen=True, slots=True)
class Profile:
    serial: str = "23201234567"
    model: Model = "AirSense10"
    language: Literal["en", "fr"] = "en"  # S9 machines sold in France write French labels
    patient_ref: str = "PAT-0001"  # goes into the CSV export only (payload data, never topics)
    first_day: date = date(2025, 11, 3)
    days: int = 365
    seed: int = 1
    nightly_minutes: int = 420
    spread_minutes: int = 70
    off_probability: float = 0.04  # machine not used at all
    short_night_probability: float = 0.08
    cross_noon_probability: float = 0.03  # a morning nap running past noon
    leaky_probability: float = 0.1
    holidays: tuple[tuple[date, date], ...] = ()
    datalog_nights: int = 2  # DATALOG keeps the last N nights with use
    brp_minutes: int = 3  # BRP waveforms truncated to N minutes to keep cards small
    dst: bool = True  # Europe/Paris clock changes (last Sunday of March / October)
    # Mask put on and taken off within a minute (a fitting): DATALOG files with a header only.
    short_session_probability: float = 0.15


BUILTIN: dict[str, Profile] = {
    "good": Profile(),
    "borderline": Profile(
        serial="23201234568", nightly_minutes=250, spread_minutes=90, off_probability=0.12, seed=7
    ),
    "poor": Profile(serial="23201234569", nightly_minutes=150, off_probability=0.3, seed=3),
    "holidays": Profile(
        serial="23201234570",
        seed=11,
        holidays=((date(2026, 7, 20), date(2026, 8, 16)),),
    ),
    "as11": Profile(serial="22231234567", model="AirSense11", seed=5),
    "s9": Profile(serial="22121234567", model="S9", seed=8, days=200),
    "s9-french": Profile(serial="22131234567", model="S9", language="fr", seed=9, days=200),
}


def load_profile(spec: str) -> Profile:
    """A built-in profile name, or a JSON file with Profile fields (dates as ISO strings)."""
    if spec in BUILTIN:
        return BUILTIN[spec]
    raw: dict[str, Any] = json.loads(Path(spec).read_text())
    base = BUILTIN.get(str(raw.pop("base", "good")), Profile())
    known = {f.name for f in fields(Profile)}
    unknown = set(raw) - known
    if unknown:
        raise ValueError(f"unknown profile fields: {sorted(unknown)}")
    if "first_day" in raw:
        raw["first_day"] = date.fromisoformat(raw["first_day"])
    if "holidays" in raw:
        raw["holidays"] = tuple((date.fromisoformat(a), date.fromisoformat(b)) for a, b in raw["holidays"])
    return replace(base, **raw)


@dataclass(slots=True)
class NightTruth:
    """What one ResMed day (noon to noon) must read back as."""

    day: date
    usage_minutes: int = 0  # real minutes of mask-on (the STR Duration)
    mask_on: list[int] = field(default_factory=list)  # wall-clock minutes after noon, -1 = none
    mask_off: list[int] = field(default_factory=list)
    ahi_tenths: int = 0
    leak_50: int = 0  # L/s in 0.02 units (the STR digital value)
    leak_70: int = 0
    leak_95: int = 0
    leak_max: int = 0
    sessions: list[tuple[datetime, int]] = field(default_factory=list)  # (wall start, real minutes)
    events: list[tuple[float, float, str]] = field(default_factory=list)
    blips: list[datetime] = field(default_factory=list)  # sessions under a minute (DATALOG only)


def _dst_shift(day: date, start_off: int, real: int, dst: bool) -> int:
    """Wall-clock minutes after noon at which a session ends on a clock-change night."""
    end = start_off + real
    if not dst:
        return end
    nxt = day + timedelta(days=1)
    if nxt == last_sunday(nxt.year, 3) and start_off < 14 * 60 <= end:  # 02:00 jumps to 03:00
        return end + 60
    if nxt == last_sunday(nxt.year, 10) and start_off < 15 * 60 <= end + 60:  # 03:00 back to 02:00
        return end - 60
    return end


def generate(profile: Profile) -> list[NightTruth]:
    """Sessions per ResMed day from the profile; deterministic for a given seed."""
    rng = random.Random(profile.seed)
    nights = [NightTruth(profile.first_day + timedelta(days=i)) for i in range(profile.days)]
    for i, night in enumerate(nights):
        day = night.day
        if any(a <= day <= b for a, b in profile.holidays) or rng.random() < profile.off_probability:
            continue
        total = max(20, int(rng.gauss(profile.nightly_minutes, profile.spread_minutes)))
        if rng.random() < profile.short_night_probability:
            total = rng.randint(30, 200)
        total = min(total, 11 * 60)
        n_sessions = rng.choices([1, 2, 3], weights=[70, 25, 5])[0]
        cursor = rng.randint(600, 750)  # 22:00 to 00:30
        parts = [total // n_sessions] * n_sessions
        parts[0] += total - sum(parts)
        shifted = False  # the clock changes once a night: later sessions already read the new time
        for real in parts:
            end_wall = _dst_shift(day, cursor, real, profile.dst and not shifted)
            shifted = shifted or end_wall != cursor + real
            _add_session(nights, i, cursor, real, end_wall)
            cursor = end_wall + rng.randint(5, 25)
        if rng.random() < profile.cross_noon_probability and i + 1 < len(nights):
            start = 23 * 60 + rng.randint(0, 30)  # 11:00-11:30 next morning
            real = rng.randint(45, 120)
            _add_session(nights, i, start, real, start + real)
        leaky = rng.random() < profile.leaky_probability
        night.ahi_tenths = rng.randint(5, 60)
        night.leak_50 = rng.randint(0, 5)
        night.leak_70 = night.leak_50 + rng.randint(0, 5) + (25 if leaky else 0)
        night.leak_95 = night.leak_70 + rng.randint(1, 10) + (20 if leaky else 0)
        night.leak_max = night.leak_95 + rng.randint(1, 20)
        hours = max(1, night.usage_minutes // 60)
        kinds = ["Obstructive Apnea", "Central Apnea", "Hypopnea", "Apnea", "Arousal"]
        for _ in range(night.ahi_tenths * hours // 10):
            onset = float(rng.randint(60, max(61, night.usage_minutes * 60 - 60)))
            night.events.append((onset, float(rng.randint(10, 40)), rng.choice(kinds[:4])))
        night.events.sort()
    _add_blips(nights, profile)
    return nights


def _add_blips(nights: list[NightTruth], profile: Profile) -> None:
    """Sessions under a minute a few minutes before a night's first session. Drawn from their own
    generator, so a profile's nights stay the same whatever this probability is. How STR.edf counts
    them is not known from real cards: they are written to DATALOG only."""
    rng = random.Random(f"blips-{profile.seed}")
    for night in nights:
        if night.sessions and rng.random() < profile.short_session_probability:
            first = night.sessions[0][0]
            night.blips.append(first - timedelta(minutes=rng.randint(3, 15), seconds=rng.randint(0, 59)))


def _add_session(nights: list[NightTruth], i: int, start: int, real: int, end_wall: int) -> None:
    """Record a session (wall-clock minutes after noon of day i), split at the next noon."""
    night = nights[i]
    night.sessions.append(
        (datetime.combine(night.day, datetime.min.time()) + timedelta(minutes=NOON + start), real)
    )
    if end_wall <= 1440:
        night.mask_on.append(start)
        night.mask_off.append(end_wall)
        night.usage_minutes += real
        return
    before = 1440 - start  # no clock change at noon: wall minutes are real minutes here
    night.mask_on.append(start)
    night.mask_off.append(-1)  # a last on without an off ends at noon
    night.usage_minutes += before
    if i + 1 < len(nights):
        nxt = nights[i + 1]
        nxt.mask_on.insert(0, -1)  # slot 0: an off without an on
        nxt.mask_off.insert(0, end_wall - 1440)
        nxt.usage_minutes += real - before
