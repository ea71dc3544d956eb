"""The supervisor: a failing driver is logged, backed off and restarted, and never stops another."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence

import pytest

from passerelle.daemon import supervisor as supervisor_module
from passerelle.daemon.driver import DeviceChange, DeviceInfo, Driver, DriverItem, RequestHandler
from passerelle.daemon.supervisor import Supervisor
from passerelle.testing.support import wait_until


class ScriptedDriver:
    """Runs ``script`` at each start: what it yields goes to the sink, what it raises is the failure."""

    def __init__(
        self,
        name: str,
        script: Callable[[int], AsyncIterator[DriverItem]],
        fail_start: int = 0,
        fail_stop: bool = False,
    ) -> None:
        self._name = name
        self.script = script
        self.fail_start = fail_start  # the first starts that raise
        self.fail_stop = fail_stop
        self.starts = 0
        self.stops = 0
        self.device = DeviceInfo(id=name, family="test", driver="scripted")

    @property
    def name(self) -> str:
        return self._name

    async def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_start:
            raise OSError("device node missing")

    async def stop(self) -> None:
        self.stops += 1
        if self.fail_stop:
            raise RuntimeError("stuck")

    def events(self) -> AsyncIterator[DriverItem]:
        return self.script(self.starts)

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}


@pytest.fixture(autouse=True)
def _short_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(supervisor_module, "MIN_BACKOFF", 0.01)
    monkeypatch.setattr(supervisor_module, "MAX_BACKOFF", 0.02)


class Sink:
    def __init__(self) -> None:
        self.items: list[tuple[str, DriverItem]] = []

    async def __call__(self, driver: Driver, item: DriverItem) -> None:
        self.items.append((driver.name, item))

    def of(self, name: str) -> int:
        return sum(1 for driver, _ in self.items if driver == name)


def steady(device: DeviceInfo) -> Callable[[int], AsyncIterator[DriverItem]]:
    async def script(_start: int) -> AsyncIterator[DriverItem]:
        while True:
            yield DeviceChange(device)
            await asyncio.sleep(0.001)

    return script


async def crashing(start: int) -> AsyncIterator[DriverItem]:
    yield DeviceChange(DeviceInfo(id="crash", family="test", driver="scripted"))
    raise RuntimeError(f"crash {start}")


async def running(supervisor: Supervisor) -> asyncio.Task[None]:
    return asyncio.create_task(supervisor.run())


async def stopped(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_a_crashing_driver_is_restarted_and_the_other_keeps_running() -> None:
    sink = Sink()
    supervisor = Supervisor(sink)
    good = ScriptedDriver("test/good", lambda _: steady(DeviceInfo(id="g", family="t", driver="s"))(0))
    bad = ScriptedDriver("test/bad", crashing)
    supervisor.add(good)
    supervisor.add(bad)
    task = await running(supervisor)
    try:
        await wait_until(lambda: supervisor.status["test/bad"].restarts >= 3, 5, "restarts")
        assert supervisor.status["test/good"].state == "running"
        assert supervisor.status["test/good"].restarts == 0
        assert (supervisor.status["test/bad"].last_error or "").startswith("RuntimeError: crash")
        assert sink.of("test/bad") >= 3  # what it handed over before each crash got through
        assert bad.stops >= 3  # stopped before each restart
    finally:
        await stopped(task)
    assert supervisor.status["test/good"].state == "stopped"
    assert good.stops == 1
    # (Cancelled during its backoff sleep, a driver keeps the state "backoff": nothing reads it then.)


async def test_a_stream_that_ends_by_itself_is_a_failure() -> None:
    async def ends(_start: int) -> AsyncIterator[DriverItem]:
        return
        yield  # an async generator that yields nothing

    supervisor = Supervisor(Sink())
    supervisor.add(ScriptedDriver("test/ends", ends))
    task = await running(supervisor)
    try:
        await wait_until(lambda: supervisor.status["test/ends"].restarts >= 1, 5, "a restart")
        assert supervisor.status["test/ends"].last_error == "DriverEndedError: event stream ended"
    finally:
        await stopped(task)


async def test_a_failed_start_backs_off_then_runs(caplog: pytest.LogCaptureFixture) -> None:
    driver = ScriptedDriver("test/late", steady(DeviceInfo(id="l", family="t", driver="s")), fail_start=3)
    states: list[str] = []
    supervisor = Supervisor(Sink())
    supervisor.changed.connect(lambda: states.append(supervisor.status["test/late"].state))
    supervisor.add(driver)
    with caplog.at_level(logging.DEBUG, logger="passerelle.daemon.supervisor"):
        task = await running(supervisor)
        try:
            await wait_until(lambda: supervisor.status["test/late"].state == "running", 5, "running")
        finally:
            await stopped(task)
    assert states == ["backoff", "backoff", "backoff", "running", "stopped"]
    status = supervisor.status["test/late"]
    assert status.restarts == 3
    assert status.last_error == "OSError: device node missing"  # kept after recovery: the last cause
    # The first failure is an error with its traceback; its repeats stay out of the journal's way.
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.ERROR, logging.DEBUG, logging.DEBUG]
    assert failures[0].exc_info is not None


async def test_a_driver_that_will_not_stop_is_warned_about_and_still_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    driver = ScriptedDriver("test/stuck", crashing, fail_stop=True)
    supervisor = Supervisor(Sink())
    supervisor.add(driver)
    with caplog.at_level(logging.WARNING, logger="passerelle.daemon.supervisor"):
        task = await running(supervisor)
        try:
            await wait_until(lambda: driver.starts >= 2, 5, "a second start")
        finally:
            await stopped(task)
    assert "test/stuck did not stop cleanly: stuck" in caplog.text


async def test_a_failing_sink_is_the_drivers_failure_not_the_supervisors() -> None:
    async def refusing_sink(driver: Driver, item: DriverItem) -> None:
        raise ValueError("invalid device id")

    supervisor = Supervisor(refusing_sink)
    supervisor.add(ScriptedDriver("test/d", steady(DeviceInfo(id="d", family="t", driver="s"))))
    task = await running(supervisor)
    try:
        await wait_until(lambda: supervisor.status["test/d"].restarts >= 2, 5, "restarts")
        assert not task.done()
    finally:
        await stopped(task)


async def test_a_failing_change_listener_does_not_stop_supervision() -> None:
    supervisor = Supervisor(Sink())

    def broken() -> None:
        raise RuntimeError("health bug")

    supervisor.changed.connect(broken)
    supervisor.add(ScriptedDriver("test/c", crashing))
    task = await running(supervisor)
    try:
        await wait_until(lambda: supervisor.status["test/c"].restarts >= 2, 5, "restarts")
    finally:
        await stopped(task)
    assert supervisor.changed.failures >= 3


def test_a_driver_that_could_not_be_built_shows_as_disabled() -> None:
    supervisor = Supervisor(Sink())
    supervisor.disable("card", "invalid configuration")
    status = supervisor.status["card"].as_dict()
    assert status["state"] == "disabled" and status["last_error"] == "invalid configuration"
    assert supervisor.drivers == []


async def test_a_stop_request_during_a_crash_loop_is_not_lost() -> None:
    """The daemon's stop cancels the supervisor just as a crashing driver's quick stop() completes:
    the cancellation must end supervision, not be swallowed (asyncio.wait_for on Python 3.11)."""
    supervisor = Supervisor(Sink())
    run: list[asyncio.Task[None]] = []

    class CancelsOnStop(ScriptedDriver):
        async def stop(self) -> None:
            await super().stop()
            if self.stops == 3:
                run[0].cancel()  # the daemon stopping, at the worst moment

    driver = CancelsOnStop("test/loop", crashing)
    supervisor.add(driver)
    run.append(await running(supervisor))
    done, _ = await asyncio.wait(run, timeout=2)
    assert done, f"supervision went on after the stop request: {driver.starts} starts"
    assert driver.starts <= 4
