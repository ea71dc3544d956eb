"""The reconnecting-device loop against an in-memory device that fails on cue."""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import AsyncIterator, Iterable

import pytest

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.device_loop import NOT_OPENED, DeviceLoop, DeviceStatus
from passerelle.daemon.driver import DeviceState

Item = tuple[str, object]
END = object()  # put in the feed: the device ends the stream


def absent() -> OSError:
    return FileNotFoundError(errno.ENOENT, "No such file or directory")


def unplugged() -> OSError:
    return OSError(errno.ENODEV, "No such device")


class RecordingBackoff(Backoff):
    """The real backoff, without jitter so that its delays can be compared; remembers each delay."""

    def __init__(self, minimum: float, maximum: float) -> None:
        super().__init__(minimum, maximum, jitter=False)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


class MemoryDevice:
    """Opens while ``open_errors`` is empty; each read feeds what the test puts in ``feed``: an item,
    an OSError (raised: the device went away) or END."""

    def __init__(self, *open_errors: OSError) -> None:
        self.open_errors = list(open_errors)
        self.feed: asyncio.Queue[object] = asyncio.Queue()
        self.opened = 0
        self.closed: list[int] = []
        self.buffered: list[Item] = []
        self.open_gate: asyncio.Event | None = None  # set: open waits for it
        self.interface = "memory0"

    @property
    def name(self) -> str:
        return "memory/dev"

    async def open_device(self) -> int:
        if self.open_gate is not None:
            await self.open_gate.wait()
        if self.open_errors:
            raise self.open_errors.pop(0)
        self.opened += 1
        return self.opened

    async def read_device(self, connection: int) -> AsyncIterator[Item]:
        while True:
            what = await self.feed.get()
            if what is END:
                return
            if isinstance(what, BaseException):
                raise what
            yield ("data", what)

    def close_device(self, connection: int) -> None:
        self.closed.append(connection)

    def drain(self) -> Iterable[Item]:
        drained, self.buffered = self.buffered, []
        return drained

    def announce(self, status: DeviceStatus) -> Item:
        return ("status", (status.state, status.problem))

    def describe(self, error: OSError) -> str:
        return error.strerror or str(error)


def make_loop(device: MemoryDevice, **kwargs: str) -> tuple[DeviceLoop[int, Item], RecordingBackoff]:
    backoff = RecordingBackoff(0.001, 0.004)
    return DeviceLoop(device, backoff, **kwargs), backoff


async def take(items: AsyncIterator[Item], count: int) -> list[Item]:
    async with asyncio.timeout(2):
        return [await anext(items) for _ in range(count)]


async def next_item(items: AsyncIterator[Item]) -> Item:
    return await anext(items)


def online() -> Item:
    return ("status", (DeviceState.ONLINE, None))


def offline(reason: str) -> Item:
    return ("status", (DeviceState.OFFLINE, reason))


async def test_a_device_that_is_not_there_is_announced_once_then_opened_when_it_comes() -> None:
    device = MemoryDevice(absent(), absent(), absent())
    loop, backoff = make_loop(device)
    assert loop.status == NOT_OPENED
    items = loop.run()
    assert await take(items, 2) == [offline("No such file or directory"), online()]
    assert backoff.delays == [0.001, 0.002, 0.004]  # one wait per failed open, growing to the cap
    assert loop.status == DeviceStatus(DeviceState.ONLINE, None)
    await items.aclose()


async def test_backoff_grows_to_its_cap_and_a_successful_open_resets_it() -> None:
    device = MemoryDevice(absent(), absent(), absent(), absent())
    loop, backoff = make_loop(device)
    items = loop.run()
    await take(items, 2)
    assert backoff.delays == [0.001, 0.002, 0.004, 0.004]
    assert backoff.attempt == 0  # reset by the open
    device.open_errors = [absent(), absent()]
    device.feed.put_nowait(unplugged())
    await take(items, 2)  # offline (the loss), online again
    assert backoff.delays[4:] == [0.001, 0.002]  # from the minimum again, not from the cap
    await items.aclose()


async def test_the_reason_of_a_loss_reaches_the_status_the_log_and_the_buffered_tail(
    caplog: pytest.LogCaptureFixture,
) -> None:
    device = MemoryDevice()
    loop, backoff = make_loop(device)
    items = loop.run()
    assert await take(items, 1) == [online()]
    device.feed.put_nowait("scan-1")
    assert await take(items, 1) == [("data", "scan-1")]
    device.buffered = [("data", "cut-by-unplug")]
    caplog.set_level(logging.WARNING, "passerelle.daemon.device_loop")
    device.open_errors = [absent()]  # gone for a while after the loss
    device.feed.put_nowait(unplugged())
    assert await take(items, 2) == [("data", "cut-by-unplug"), offline("No such device")]
    assert loop.status == DeviceStatus(DeviceState.OFFLINE, "No such device")
    assert device.closed == [1]
    assert "memory/dev: memory0 lost: No such device" in caplog.messages
    # Still away: the failed reopen is not announced again and the loss stays the reason shown.
    assert await take(items, 1) == [online()]
    assert backoff.delays == [0.001]
    assert not any("cannot open" in message for message in caplog.messages)
    await items.aclose()


async def test_end_of_stream_is_reported_with_the_devices_word_for_it_and_reopened_at_once() -> None:
    device = MemoryDevice()
    loop, backoff = make_loop(device, end_of_stream="hang-up")
    items = loop.run()
    await take(items, 1)
    device.feed.put_nowait(END)
    assert await take(items, 2) == [offline("hang-up"), online()]
    assert (device.opened, device.closed, backoff.delays) == (2, [1], [])
    await items.aclose()
    assert device.closed == [1, 2]


async def test_cancelled_while_opening_leaves_nothing_open() -> None:
    device = MemoryDevice()
    device.open_gate = asyncio.Event()
    loop, _ = make_loop(device)
    items = loop.run()
    consumer = asyncio.create_task(next_item(items))
    await asyncio.sleep(0.01)
    assert not consumer.done()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert (device.opened, device.closed, loop.status) == (0, [], NOT_OPENED)


async def test_cancelled_while_reading_closes_the_device_once() -> None:
    device = MemoryDevice()
    loop, _ = make_loop(device)
    items = loop.run()
    assert await take(items, 1) == [online()]
    consumer = asyncio.create_task(next_item(items))
    await asyncio.sleep(0.01)  # now waiting in the read
    assert not consumer.done()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert device.closed == [1]


async def test_a_consumer_that_stops_right_after_online_still_closes_the_device() -> None:
    device = MemoryDevice()
    loop, _ = make_loop(device)
    items = loop.run()
    assert await take(items, 1) == [online()]
    await items.aclose()
    assert device.closed == [1]


async def test_a_bug_in_the_read_ends_the_loop_after_closing_the_device() -> None:
    device = MemoryDevice()
    loop, _ = make_loop(device)
    items = loop.run()
    await take(items, 1)
    device.feed.put_nowait(ValueError("decoder bug"))
    with pytest.raises(ValueError, match="decoder bug"):
        await take(items, 1)
    assert device.closed == [1]


async def test_a_new_run_announces_an_absent_device_again_and_keeps_the_status_between_runs() -> None:
    device = MemoryDevice(absent())
    loop, _ = make_loop(device)
    items = loop.run()
    assert await take(items, 1) == [offline("No such file or directory")]
    await items.aclose()
    assert loop.status == DeviceStatus(DeviceState.OFFLINE, "No such file or directory")
    device.open_errors = [unplugged()]
    items = loop.run()  # what a supervisor restart does
    assert await take(items, 2) == [offline("No such device"), online()]
    await items.aclose()


def test_a_fixed_backoff_hands_out_its_period_every_time() -> None:
    backoff = Backoff.fixed(0.05)
    assert [backoff.next_delay() for _ in range(4)] == [0.05] * 4


def test_the_jittered_backoff_stays_between_half_and_the_whole_ceiling() -> None:
    backoff = Backoff(1.0, 4.0)
    delays = [backoff.next_delay() for _ in range(5)]
    for delay, ceiling in zip(delays, [1.0, 2.0, 4.0, 4.0, 4.0], strict=True):
        assert ceiling / 2 <= delay <= ceiling
