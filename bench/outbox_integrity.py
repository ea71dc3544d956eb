"""What the outbox's damage checks cost on a large backlog (issue 9, item 5).

    .venv/bin/python -m bench.outbox_integrity [--events 1000000]

Builds an outbox of ``--events`` scan-sized events with the outbox's own SQL, then times each check
(warm page cache: the file was just written), the outbox's open (what holds READY) and the real
daemon's time to READY on that backlog, broker down so that nothing drains.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from uuid import uuid4

from passerelle.daemon import outbox_sql as sql
from passerelle.daemon.broker import free_port
from passerelle.daemon.outbox import Outbox, OutboxRow
from passerelle.daemon.outbox_integrity import inspect_files
from passerelle.testing.support import DaemonProcess, base_config

BUILD_BATCH = 10_000


def build(path: Path, events: int) -> Path:
    """The outbox with ``events`` rows; returns a copy of its files taken before the final close
    (a crash image, WAL not checkpointed), for timing the WAL check."""
    db = sql.connect(path)
    now = time.time()
    for start in range(1, events + 1, BUILD_BATCH):
        rows = []
        for seq in range(start, min(start + BUILD_BATCH, events + 1)):
            event_id = str(uuid4())
            payload = (
                b'{"schema":"passerelle.scan/1","event_id":"%s","occurred_at":"2026-11-30T04:00:00+01:00",'
                b'"station":"counter-1","device":{"id":"scanner-1","family":"scanner","driver":"hid"},'
                b'"data":{"symbology":"datamatrix","gs1":{"gtin":"03400930000000","expiry":"2027-01-31",'
                b'"batch":"L%07d","serial":"S%012d"}}}' % (event_id.encode(), seq, seq)
            )
            rows.append(OutboxRow(seq, event_id, "passerelle/counter-1/scan", payload, now))
        sql.commit(db, rows, [], None)
    crash = path.with_name("crash.sqlite3")
    for extra in ("", "-wal"):
        source = path.with_name(path.name + extra)
        if source.exists():
            shutil.copyfile(source, crash.with_name(crash.name + extra))
    db.close()
    return crash


def timed(label: str, fn: object) -> float:
    started = time.perf_counter()
    result = fn()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    print(f"{label:<44} {seconds:7.3f} s   {result!r:.60}")
    return seconds


def pragma(path: Path, name: str) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute(f"PRAGMA {name}").fetchone()[0])
    finally:
        db.close()


def full_checksum_scan(path: Path) -> int:
    db = sqlite3.connect(path)
    damaged, after = 0, 0
    while True:
        intact, bad = sql.select(db, after, 1 << 62, 10_000)
        damaged += len(bad)
        if not intact and not bad:
            db.close()
            return damaged
        after = (intact + bad)[-1].seq


async def open_and_verify(path: Path) -> None:
    outbox = Outbox(path, max_events=2_000_000, max_bytes=1 << 32, when_full="refuse")
    started = time.perf_counter()
    await outbox.open()
    opened = time.perf_counter() - started
    print(f"{'Outbox.open() (what holds READY)':<44} {opened:7.3f} s   {outbox.count} events")
    assert outbox.verification is not None
    await outbox.verification
    verified = time.perf_counter() - started - opened
    print(f"{'background checksum pass after open':<44} {verified:7.3f} s")
    await outbox.close()


async def daemon_ready(state: Path, workdir: Path) -> None:
    daemon = DaemonProcess(base_config(free_port(), state), workdir)
    daemon.start()
    ready = await daemon.wait_ready(120)
    print(f"{'daemon READY (real process, broker down)':<44} {ready:7.3f} s")
    await daemon.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="passerelle-integrity-") as tmp:
        state = Path(tmp) / "state"
        state.mkdir()
        path = state / "outbox.sqlite3"
        started = time.perf_counter()
        crash = build(path, args.events)
        size = path.stat().st_size >> 20
        wal = crash.with_name(crash.name + "-wal")
        wal_size = wal.stat().st_size >> 10 if wal.exists() else 0
        print(
            f"built {args.events} events ({size} MB, crash image WAL {wal_size} KB) in {time.perf_counter() - started:.1f} s"
        )
        timed("file and WAL checks (crash image)", lambda: inspect_files(crash))
        timed("PRAGMA quick_check", lambda: pragma(path, "quick_check"))
        timed("PRAGMA integrity_check", lambda: pragma(path, "integrity_check"))
        timed("every row's checksum in one pass", lambda: full_checksum_scan(path))
        asyncio.run(open_and_verify(path))
        asyncio.run(daemon_ready(state, Path(tmp)))


if __name__ == "__main__":
    main()
