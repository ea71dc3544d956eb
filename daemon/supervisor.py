"""Runs every driver under its own supervisor: a failing driver is logged, backed off and restarted,
and never stops another driver or the daemon."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.driver import Driver, DriverItem
from passerelle.daemon.signals import Signal

log = logging.getLogger(__name__)

MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0
HEALTHY_AFTER = 60.0  # a run this long resets the backoff
STOP_TIMEOUT = 10.0  # seconds a driver's stop may take


class DriverEndedError(Exception):
    """The driver's event stream ended by itself; restart it."""


@dataclass(slots=True)
class DriverStatus:
    name: str
    state: str = "starting"  # starting | running | backoff | disabled | stopped
    restarts: int = 0
    last_error: str | None = None
    since: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "restarts": self.restarts,
            "last_error": self.last_error,
            "since": self.since,
        }


Sink = Callable[[Driver, DriverItem], Awaitable[None]]


class Supervisor:
    def __init__(self, sink: Sink) -> None:
        self.drivers: list[Driver] = []
        self.sink = sink
        self.status: dict[str, DriverStatus] = {}
        self.changed: Signal[[]] = Signal("supervisor.changed")  # a driver's state changed

    def add(self, driver: Driver) -> None:
        """Supervise one more driver (before ``run``)."""
        self.drivers.append(driver)
        self.status[driver.name] = DriverStatus(driver.name)

    def disable(self, name: str, reason: str) -> None:
        """Record a driver that could not even be built (invalid configuration)."""
        self.status[name] = DriverStatus(name, state="disabled", last_error=reason)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for driver in self.drivers:
                group.create_task(self._supervise(driver), name=f"driver:{driver.name}")

    def _set(self, status: DriverStatus, state: str, error: str | None = None) -> None:
        status.state, status.since = state, time.time()
        if error is not None:
            status.last_error = error
        self.changed.emit()

    async def _supervise(self, driver: Driver) -> None:
        status = self.status[driver.name]
        backoff = Backoff(MIN_BACKOFF, MAX_BACKOFF)
        while True:
            started = time.monotonic()
            try:
                await driver.start()
                self._set(status, "running")
                async for item in driver.events():
                    await self.sink(driver, item)
                raise DriverEndedError("event stream ended")
            except asyncio.CancelledError:
                self._set(status, "stopped")
                await self._stop_quietly(driver)
                raise
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                if time.monotonic() - started > HEALTHY_AFTER:
                    backoff.reset()
                status.restarts += 1
                # The first failure gets a traceback; repeats of a known problem stay quiet.
                if backoff.attempt == 0:
                    log.error("driver %s failed: %s", driver.name, error, exc_info=exc)
                else:
                    log.debug("driver %s failed again (%d): %s", driver.name, backoff.attempt + 1, error)
                self._set(status, "backoff", error)
            await self._stop_quietly(driver)
            await asyncio.sleep(backoff.next_delay())

    @staticmethod
    async def _stop_quietly(driver: Driver) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11, wait_for swallows a cancellation that lands as
        # the driver's stop completes, and the supervisor then went on restarting a crashing driver
        # while the daemon waited for it to stop.
        try:
            async with asyncio.timeout(STOP_TIMEOUT):
                await driver.stop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("driver %s did not stop cleanly: %s", driver.name, exc)
