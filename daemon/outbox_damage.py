"""Outbox damage incidents, kept next to the outbox until an operator acknowledges them.

An incident (a damaged outbox moved aside at start, a stored event whose checksum failed) means events
may be missing, which only a person can follow up. It turns health red at every start until it is
acknowledged, with ``passerelle outbox-damage ack`` (which edits this file, daemon running or not) or
the ``bridge/request/outbox-damage-ack`` request. The file is small JSON, written atomically.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError

log = logging.getLogger(__name__)


class Incident(BaseModel):
    detected_at: str  # UTC, RFC 3339
    reason: str
    moved_to: list[str] = []  # file names beside the outbox
    acknowledged_at: str | None = None

    def describe(self) -> str:
        where = f"; kept as {', '.join(self.moved_to)}" if self.moved_to else ""
        return f"outbox damage detected {self.detected_at}: {self.reason}{where}"


class _DamageFile(BaseModel):
    incidents: list[Incident] = []


def record_path(outbox_path: Path) -> Path:
    return outbox_path.with_name(outbox_path.name + ".damage.json")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DamageRecord:
    def __init__(self, outbox_path: Path) -> None:
        self.path = record_path(outbox_path)
        self.incidents: list[Incident] = []
        self._seen_mtime: int | None = None

    def load(self) -> None:
        self.incidents = self._read()

    def _read(self) -> list[Incident]:
        try:
            stat = self.path.stat()
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        self._seen_mtime = stat.st_mtime_ns
        try:
            return _DamageFile.model_validate_json(text).incidents
        except ValidationError:
            # An unreadable record must not hide what it recorded: it becomes an incident itself.
            return [Incident(detected_at=_now(), reason=f"the damage record {self.path.name} is unreadable")]

    def add(self, reason: str, moved_to: list[Path] | None = None) -> Incident:
        incident = Incident(detected_at=_now(), reason=reason, moved_to=[p.name for p in moved_to or []])
        self.incidents.append(incident)
        log.critical("%s; acknowledge with 'passerelle outbox-damage ack'", incident.describe())
        self.save()
        return incident

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents if i.acknowledged_at is None]

    def acknowledge(self) -> int:
        opened = self.open_incidents()
        stamp = _now()
        for incident in opened:
            incident.acknowledged_at = stamp
        if opened:
            self.save()
            log.warning("%d outbox damage incident(s) acknowledged", len(opened))
        return len(opened)

    def refresh(self) -> None:
        """Take in acknowledgements written by another process (the CLI), at most once per change."""
        with contextlib.suppress(OSError):
            if self.path.stat().st_mtime_ns == self._seen_mtime:
                return
        on_disk = {(i.detected_at, i.reason): i for i in self._read()}
        for incident in self.incidents:
            stored = on_disk.get((incident.detected_at, incident.reason))
            if stored is not None and stored.acknowledged_at and incident.acknowledged_at is None:
                incident.acknowledged_at = stored.acknowledged_at
        if any((i.detected_at, i.reason) not in on_disk for i in self.incidents):
            self.save()  # written while another process rewrote the file: put it back

    def save(self) -> bool:
        """Atomically; a failure (full or read-only disk) is logged and the incident stays in memory."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            with tmp.open("w") as fh:
                fh.write(_DamageFile(incidents=self.incidents).model_dump_json(indent=2))
                fh.flush()
                os.fsync(fh.fileno())
            tmp.replace(self.path)
            self._seen_mtime = self.path.stat().st_mtime_ns
        except OSError as exc:
            log.error("cannot record outbox damage in %s: %s", self.path, exc.strerror or exc)
            return False
        return True


def damage_command(outbox_path: Path, action: str) -> int:
    """``passerelle outbox-damage show|ack``: works whether the daemon runs or not (it re-reads the
    record while an incident is open)."""
    record = DamageRecord(outbox_path)
    record.load()
    opened = record.open_incidents()
    if action == "show" or not opened:
        for incident in opened:
            print(incident.describe())
        print(f"{len(opened)} outbox damage incident(s) not acknowledged ({record.path})")
        return 0
    record.acknowledge()
    check = DamageRecord(outbox_path)
    check.load()
    if check.open_incidents():
        print(f"could not record the acknowledgement in {record.path}", file=sys.stderr)
        return 1
    print(f"acknowledged {len(opened)} outbox damage incident(s)")
    return 0
