"""Watching folders: inotify, the kernel mount table, and the acknowledged ledger of the driver."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

from passerelle.daemon.driver import DriverContext, DriverEvent
from passerelle.drivers.cpap.config import CpapSection, CpapSource
from passerelle.drivers.cpap.driver import ObservanceDriver, find_cards
from passerelle.drivers.cpap.events import DAY_SCHEMA
from passerelle.drivers.cpap.watch import FolderWatch
from passerelle.simulators.cpap.card import write_card
from passerelle.simulators.cpap.profile import BUILTIN
from passerelle.testing.support import wait_until


async def next_change(changes: AsyncIterator[str], timeout: float = 5.0) -> str:
    return await asyncio.wait_for(anext(changes), timeout)


async def test_card_moved_into_watched_folder_wakes_inotify(tmp_path: Path) -> None:
    media = tmp_path / "media"
    media.mkdir()
    watch = FolderWatch(media, depth=2, fallback_seconds=60, settle_seconds=0.05)
    watch.start()
    try:
        assert watch.mode == "inotify"
        changes = watch.changes()
        assert await next_change(changes) == "start"
        card = write_card(replace(BUILTIN["good"], days=10), tmp_path / "staging" / "CARD", with_csv=False)
        os.replace(card.root, media / "CARD")
        assert await next_change(changes) == "event"
        assert find_cards(media, 2) == [media / "CARD"]
    finally:
        watch.stop()


async def test_card_mounted_on_existing_folder_is_seen_through_the_mount_table(tmp_path: Path) -> None:
    """A mount creates no inotify event in the parent folder: the mount table wakes us up."""
    media = tmp_path / "media"
    (media / "user" / "CARD").mkdir(parents=True)  # the mount point exists before the card
    card = write_card(replace(BUILTIN["good"], days=10), tmp_path / "sdcard", with_csv=False)
    watch = FolderWatch(media, depth=2, fallback_seconds=60, settle_seconds=0.05)
    watch.start()
    mounted = False
    try:
        changes = watch.changes()
        assert await next_change(changes) == "start"
        assert find_cards(media, 2) == []
        await asyncio.to_thread(
            subprocess.run,
            ["mount", "--bind", "-o", "ro", str(card.root), str(media / "user" / "CARD")],
            check=True,
        )
        mounted = True
        assert await next_change(changes) == "event"
        assert find_cards(media, 2) == [media / "user" / "CARD"]
    finally:
        watch.stop()
        if mounted:
            await asyncio.to_thread(subprocess.run, ["umount", str(media / "user" / "CARD")], check=True)


async def test_files_written_on_a_card_mounted_over_a_watched_folder_wake_the_watch(tmp_path: Path) -> None:
    media = tmp_path / "media"
    (media / "CARD").mkdir(parents=True)
    card = tmp_path / "sdcard"
    card.mkdir()
    watch = FolderWatch(media, depth=1, fallback_seconds=60, settle_seconds=0.05)
    watch.start()
    mounted = False
    try:
        changes = watch.changes()
        assert await next_change(changes) == "start"
        mount = ["mount", "--bind", str(card), str(media / "CARD")]
        await asyncio.to_thread(subprocess.run, mount, check=True)
        mounted = True
        assert await next_change(changes) == "event"  # the mount table
        (media / "CARD" / "STR.edf").write_bytes(b"0")  # inside the card: its own inotify watch
        assert await next_change(changes) == "event"
    finally:
        watch.stop()
        if mounted:
            await asyncio.to_thread(subprocess.run, ["umount", str(media / "CARD")], check=True)


async def test_export_file_written_wakes_the_watch(tmp_path: Path) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    watch = FolderWatch(exports, depth=0, fallback_seconds=60, settle_seconds=0.05)
    watch.start()
    try:
        changes = watch.changes()
        await next_change(changes)
        (exports / "x.csv").write_text("a;b\n")
        assert await next_change(changes) == "event"
    finally:
        watch.stop()


async def test_fallback_tick_without_events(tmp_path: Path) -> None:
    watch = FolderWatch(tmp_path, depth=0, fallback_seconds=0.1, settle_seconds=0)
    watch.start()
    try:
        changes = watch.changes()
        await next_change(changes)
        assert await next_change(changes, 2.0) == "fallback"
    finally:
        watch.stop()


async def run_driver(driver: ObservanceDriver, *, fail: bool, until: int) -> list[DriverEvent]:
    """Stand in for the core's side of the contract: take the events and complete each ack (or
    fail it, as a refused outbox commit does) until ``until`` imports have finished."""
    got: list[DriverEvent] = []
    await driver.start()
    stream = driver.events()

    async def pump() -> None:
        async for item in stream:
            if isinstance(item, DriverEvent):
                got.append(item)
                assert item.ack is not None
                if fail:
                    item.ack.set_exception(RuntimeError("outbox full"))
                else:
                    item.ack.set_result(None)

    def finished() -> int:
        return sum(1 for e in got if e.data.model_dump().get("status") == "finished")

    task = asyncio.create_task(pump())
    try:
        await wait_until(
            lambda: finished() >= until and (fail or driver.imports >= until), 10, f"{until} import(s)"
        )
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await driver.stop()
    return got


async def test_ledger_is_written_only_after_every_event_is_acknowledged(tmp_path: Path) -> None:
    media = tmp_path / "media"
    write_card(replace(BUILTIN["good"], days=40), media / "CARD", with_csv=False)
    context = DriverContext(station="t", state_dir=tmp_path / "state", runtime_dir=tmp_path / "run")
    source = CpapSource(id="sd", path=media, fallback_poll_seconds=0.2, settle_seconds=0)
    ledger_file = tmp_path / "state" / "cpap" / "sd" / "devices" / "23201234567.json"

    # Refused twice: the second import proves the first one's failure was handled.
    refused = await run_driver(ObservanceDriver(source, CpapSection(), context), fail=True, until=2)
    assert not ledger_file.exists()
    first = refused[: len(refused) // 2]
    assert [e.event_id for e in first] == [e.event_id for e in refused[len(first) :]]
    accepted = await run_driver(ObservanceDriver(source, CpapSection(), context), fail=False, until=1)
    assert ledger_file.exists()
    assert [e.event_id for e in accepted] == [e.event_id for e in first]  # same ids on every retry
    assert sum(1 for e in accepted if e.schema == DAY_SCHEMA) == 40


async def test_daily_review_raises_the_prescription_alert_without_the_card(tmp_path: Path) -> None:
    from datetime import date

    from passerelle.drivers.cpap.config import Prescription
    from passerelle.drivers.cpap.events import RENEWAL_SCHEMA

    media = tmp_path / "media"
    card = write_card(replace(BUILTIN["good"], days=60), media / "CARD", with_csv=False)
    context = DriverContext(station="t", state_dir=tmp_path / "state", runtime_dir=tmp_path / "run")
    source = CpapSource(id="sd", path=media, fallback_poll_seconds=0.2, settle_seconds=0)
    section = CpapSection(
        prescriptions=[Prescription(device_serial="23201234567", end=date(2026, 8, 1))], alert_lead_days=183
    )
    jan = await run_driver(
        ObservanceDriver(source, section, context, today=lambda: date(2026, 1, 1)), fail=False, until=1
    )
    first = [e.data.model_dump() for e in jan if e.schema == RENEWAL_SCHEMA]
    assert [(r["prescription_alert"], r["days_left"]) for r in first] == [("ok", 212)]

    # The patient's card is gone; six weeks later the alert is due without any new data.
    (media / "CARD").rename(tmp_path / "elsewhere")
    feb = await run_driver(
        ObservanceDriver(source, section, context, today=lambda: date(2026, 2, 15)), fail=False, until=1
    )
    assert [e.schema for e in feb if e.schema != "passerelle.observance.import/1"] == [RENEWAL_SCHEMA]
    again = feb[1].data.model_dump()
    assert (again["prescription_alert"], again["days_left"]) == ("due_soon", 167)
    assert again["periods_considered"] == first[0]["periods_considered"]
    assert len(card.nights) == 60


async def test_watch_restarts_after_stop(tmp_path: Path) -> None:
    watch = FolderWatch(tmp_path, depth=0, fallback_seconds=60, settle_seconds=0.02)
    watch.start()
    watch.stop()
    watch.start()  # as after a supervisor restart
    try:
        changes = watch.changes()
        await next_change(changes)
        thread = watch._thread  # noqa: SLF001 - no public liveness check: the restart must start a thread
        assert thread is not None
        assert thread.is_alive()
        (tmp_path / "new.csv").write_text("x")
        assert await next_change(changes) == "event"
    finally:
        watch.stop()
