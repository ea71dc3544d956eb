"""A state disk that fills up or turns read-only, with the real daemon in-process, a real 2 MB tmpfs as
its state directory and a real Mosquitto that is down while the disk is full, then up."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.daemon.outbox_disk import UNSTORED_LIMIT
from passerelle.daemon.outbox_types import OutboxWriteError
from passerelle.testing.support import DaemonProcess, base_config, collect, inprocess_daemon, wait_until
from tests.core.disk_support import LowestPending, ext4_image, fill, metric, remount, small_tmpfs, with_desk

log = logging.getLogger(__name__)


def _config(port: int, state: Path) -> dict[str, object]:
    return base_config(port, state, desk={"enabled": True})


async def _settled(acks: list[asyncio.Future[None]]) -> None:
    await asyncio.wait(acks, timeout=30)


async def test_a_full_disk_is_reported_retried_and_loses_nothing_silently(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = PrivateBroker(free_port())  # down until the disk has room again
    families, desk = with_desk()
    with small_tmpfs(tmp_path / "state") as state:
        async with inprocess_daemon(_config(broker.port, state), families) as daemon:
            await wait_until(lambda: daemon.supervisor.status["desk/desk-1"].state == "running", 5, "driver")
            pending = LowestPending(daemon)
            filler = fill(state, leave=64 * 1024)
            acks: list[asyncio.Future[None]] = []
            n = 0
            while not daemon.outbox.writes.failing:  # the disk fills up under ordinary events
                acks.append(desk.hand_over(n))
                n += 1
                await asyncio.sleep(0.002)
                assert n < 2000, "the disk never filled up"
            full_at = n
            for _ in range(UNSTORED_LIMIT + 50):  # more than may wait in memory
                acks.append(desk.hand_over(n))
                n += 1
            await wait_until(lambda: daemon.outbox.writes.unstored_total > 0, 10, "events refused")

            health = daemon.health()
            assert health["status"] == "red"
            assert "No space left on device (ENOSPC)" in health["outbox"]["write_error"]
            assert any("No space left on device" in p for p in health["problems"])
            assert metric(daemon, "passerelle_outbox_write_errors_total") >= 1
            assert metric(daemon, "passerelle_outbox_writable") == 0
            assert "No space left on device" in caplog.text
            assert "cannot rollback" not in caplog.text
            waiting = [a for a in acks if not a.done()]
            stored_before = [a for a in acks if a.done() and a.exception() is None]
            refused = [a for a in acks if a.done() and isinstance(a.exception(), OutboxWriteError)]
            assert waiting and refused and len(stored_before) + len(waiting) + len(refused) == n
            assert len(stored_before) < full_at + 1  # nothing acknowledged that is not on disk

            # Stay full long enough for the retries to reach their longest interval.
            await wait_until(lambda: daemon.outbox.writes.errors_total >= 6, 15, "retries while full")
            filler.unlink()  # space comes back: commits resume by themselves
            freed = time.monotonic()
            await wait_until(lambda: not daemon.outbox.writes.failing, 10, "commits resumed")
            recovery = time.monotonic() - freed
            log.warning("commits resumed %.3f s after space came back", recovery)
            assert recovery < 2.0
            await _settled(waiting)
            assert all(a.exception() is None for a in waiting)  # held in memory, then stored
            assert daemon.health()["outbox"]["write_error"] is None

            broker.start()
            try:
                async with collect(broker.host, broker.port, "passerelle/test/#") as seen:
                    await seen.wait_for(
                        lambda _: (
                            any(e["schema"] == "passerelle.loss/1" for e in seen.events())
                            and len(seen.events("test.desk/1")) >= len(stored_before) + len(waiting)
                        ),
                        20,
                        "every stored event and the loss event",
                    )
                published = {e["data"]["n"] for e in seen.events("test.desk/1")}
                [loss] = seen.events("passerelle.loss/1")
                assert loss["data"]["dropped"] == len(refused)
                assert "No space left on device" in loss["data"]["reason"]
                assert len(published) + loss["data"]["dropped"] == n  # every event: published or announced
            finally:
                broker.close()
            assert await pending.stop() >= 0
            assert daemon.outbox.count >= 0


async def test_a_disk_the_kernel_turns_read_only_is_reported_and_nothing_is_acknowledged(
    tmp_path: Path,
) -> None:
    """A live ``mount -o remount,ro`` is refused (EBUSY) while the outbox holds its files open for
    writing; in the field the kernel does it by force after a disk error (ext4 errors=remount-ro), which
    is what this test makes happen on a real ext4 image."""
    families, desk = with_desk()
    state = tmp_path / "state"
    with PrivateBroker() as broker, ext4_image(tmp_path / "state.img", state) as image:
        async with collect(broker.host, broker.port, "passerelle/test/visit") as seen:
            async with inprocess_daemon(_config(broker.port, state), families) as daemon:
                await wait_until(lambda: daemon.supervisor.status["desk/desk-1"].state == "running", 5, "up")
                await desk.hand_over(0)
                image.fail()  # the kernel remounts it read-only under the running daemon
                acks = [desk.hand_over(n) for n in range(1, 21)]
                await wait_until(lambda: daemon.outbox.writes.failing, 10, "the write failure")
                health = daemon.health()
                assert health["status"] == "red"
                assert "Read-only file system (EROFS)" in health["outbox"]["write_error"]
                assert metric(daemon, "passerelle_outbox_write_errors_total") >= 1
                # Consumers still get the events from memory; drivers are not told they are stored.
                await seen.wait_for(lambda _: len(seen.events()) == 21, 10, "21 events")
                assert not any(a.done() for a in acks)
                assert daemon.outbox.count >= 0
            # Stopping while the disk refuses writes: each driver is told its event was not stored.
            assert all(isinstance(a.exception(), OutboxWriteError) for a in acks)
        image.repair()  # what an operator does: unmount, fsck, mount again
        async with inprocess_daemon(_config(broker.port, state), families) as daemon:
            assert daemon.health()["outbox"]["write_error"] is None
            assert not daemon.outbox.damage.open_incidents()
            await desk.hand_over(21)


async def test_a_state_disk_remounted_read_only_between_runs_stops_the_start_with_the_reason(
    tmp_path: Path,
) -> None:
    families, desk = with_desk()
    with PrivateBroker() as broker, small_tmpfs(tmp_path / "state") as state:
        async with inprocess_daemon(_config(broker.port, state), families):
            pass  # creates the outbox
        remount(state, "ro")  # accepted now: nothing holds a file open for writing
        daemon = DaemonProcess(base_config(broker.port, state), tmp_path / "run")
        daemon.start()
        try:
            assert await daemon.wait_exit() == 73
            assert "Read-only file system" in daemon.log()
        finally:
            remount(state, "rw")
        async with inprocess_daemon(_config(broker.port, state), families) as running:
            assert running.health()["outbox"]["write_error"] is None
            await desk.hand_over(1)
