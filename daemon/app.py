"""The daemon's composition root: builds the services (daemon/services/), connects them by their
signals (daemon/signals.py), and runs them from start to a clean stop.

Nothing here reaches into a component after building it: each one is given what it reads at
construction, and tells of its changes through signals connected below (``_connect``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from passerelle.daemon import __version__
from passerelle.daemon.config import LoadedConfig
from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import Family, FamilyLoadError
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.metrics import EventTallies, Metrics
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.publisher import Publisher
from passerelle.daemon.quarantine import QuarantineStore
from passerelle.daemon.remote_ops import RemoteOps
from passerelle.daemon.requests import BridgeCommands
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.sdnotify import Notifier, watchdog_interval
from passerelle.daemon.services.commands import core_handlers, driver_handlers
from passerelle.daemon.services.health import BridgeHealth
from passerelle.daemon.services.info import BridgeInfo
from passerelle.daemon.services.ingest import Ingest
from passerelle.daemon.services.loss import LossEvents
from passerelle.daemon.services.readings import metric_readings
from passerelle.daemon.services.state import CoreState
from passerelle.daemon.supervisor import Supervisor
from passerelle.daemon.topics import Topics
from passerelle.daemon.web.attach import attach_web, web_collectors, web_journal

log = logging.getLogger(__name__)

STATUS_INTERVAL = 1.0
SHUTDOWN_DRAIN_SECONDS = 2.0  # on SIGTERM, give the publisher this long to empty the outbox


class Daemon:
    def __init__(
        self,
        config: LoadedConfig,
        families: Mapping[str, Family],
        family_errors: list[FamilyLoadError] | None = None,
    ) -> None:
        self.config = config
        self.settings = settings = config.settings
        self.families = dict(families)
        self.family_errors = family_errors or []
        self.exit_status = 0  # 75 after a remote restart request
        self._stop = asyncio.Event()
        self.ready_at: float | None = None
        self._tasks_alive = False
        # Where events go: drivers → ingest → outbox → publisher; the retained bridge topics beside.
        self.topics = Topics(settings.base_topic)
        self.retained = RetainedStore()
        self.inventory = Inventory(self.topics, self.retained)
        self.notifier = Notifier()
        self.outbox = Outbox(
            settings.outbox_path,
            max_events=settings.outbox.max_events,
            max_bytes=settings.outbox.max_bytes,
            when_full=settings.outbox.when_full,
            loss_event=LossEvents(settings.station, self.topics),
            journal=web_journal(settings),
        )
        self.quarantine = QuarantineStore(settings.outbox_path, self.outbox)
        # Built first, filled last: the publisher needs it, and its commands need the publisher.
        self.commands = BridgeCommands(self.topics)
        self.publisher = Publisher(
            settings.mqtt,
            client_id=settings.client_id,
            topics=self.topics,
            outbox=self.outbox,
            retained=self.retained,
            router=self.commands,
            set_aside=self.quarantine.set_aside,
        )
        self.tallies = EventTallies()
        self.ingest = Ingest(
            station=settings.station,
            topics=self.topics,
            inventory=self.inventory,
            retained=self.retained,
            outbox=self.outbox,
            tallies=self.tallies,
            refuse_oversized=self.publisher.delivery.refuse_oversized,
        )
        self.supervisor = Supervisor(self.ingest.accept)
        # The bridge services.
        state = CoreState(
            outbox=self.outbox,
            quarantine=self.quarantine,
            broker=self.publisher.stats,
            delivery=self.publisher.delivery,
            supervisor=self.supervisor,
            request_results=self.commands.results,
            notifier=self.notifier,
        )
        self.web = attach_web(  # the browser endpoint (None when web.enabled is false)
            settings,
            families=self.families,
            topics=self.topics,
            retained=self.retained,
            outbox=self.outbox,
            responder=self.commands,
            support=self._web_support,
        )
        self.metrics = Metrics(self.tallies, lambda: metric_readings(state), extra=web_collectors(self.web))
        self.bridge_health = BridgeHealth(
            topics=self.topics, retained=self.retained, state=state, metrics=self.metrics, web=self.web
        )
        self.bridge_info = BridgeInfo(
            settings=settings,
            topics=self.topics,
            retained=self.retained,
            families=self.families,
            family_errors=self.family_errors,
            drivers=self.supervisor.drivers,
            family_of=self.ingest.family_of,
            commands=self.commands.commands,
        )
        self.remote = RemoteOps(
            config=config,
            families=self.families,
            family_errors=self.family_errors,
            broker=self.publisher.stats,
            health=self.health,
            info=self.info,
            request_stop=self._stop_with,
        )
        self._connect()

    def _connect(self) -> None:
        health = self.bridge_health.publish
        self.outbox.full_changed.connect(health)
        self.outbox.trouble_changed.connect(health)
        self.quarantine.changed.connect(health)
        self.supervisor.changed.connect(health)
        self.publisher.stats.published.connect(self.tallies.observe_published)
        core = core_handlers(
            info=self.info,
            health=self.health,
            inventory=self.inventory,
            outbox=self.outbox,
            quarantine=self.quarantine,
        )
        self.commands.register(core)
        self.commands.register(self.remote.handlers())
        self.commands.register_lookup(driver_handlers(self.supervisor.drivers))

    @property
    def drivers(self) -> list[Driver]:
        return self.supervisor.drivers

    def health(self) -> dict[str, Any]:
        return self.bridge_health.report()

    def info(self) -> dict[str, Any]:
        return self.bridge_info.report()

    async def _web_support(self, kind: str) -> Any:
        return await self.remote.web_support(kind)

    # -- building --------------------------------------------------------------------------------

    def build_drivers(self) -> None:
        context = DriverContext(
            station=self.settings.station,
            state_dir=self.settings.state_directory,
            runtime_dir=self.settings.state_directory / "run",
        )
        for error in self.family_errors:
            self.inventory.disable(error.name, "-", f"family unavailable: {error.reason}")
        for name, problems in self.config.section_problems.items():
            self.inventory.disable(name, "-", "invalid configuration: " + "; ".join(problems))
            self.supervisor.disable(name, "invalid configuration")
        for name, section in self.config.sections.items():
            family = self.families[name]
            if not section.enabled:
                continue
            try:
                drivers = list(family.create_drivers(section, context))
            except Exception as exc:  # one family's bug must not stop the others
                log.exception("family %s could not build its drivers", name)
                self.inventory.disable(name, "-", f"{type(exc).__name__}: {exc}")
                continue
            for driver in drivers:
                self.ingest.adopt(driver, family)
                self.supervisor.add(driver)
        for driver in self.drivers:
            with contextlib.suppress(Exception):
                for device in driver.devices():
                    self.inventory.update(device)

    # -- running ---------------------------------------------------------------------------------

    def status_line(self) -> str:
        running = sum(1 for s in self.supervisor.status.values() if s.state == "running")
        broker = "connected" if self.publisher.stats.connected else "disconnected"
        return (
            f"drivers {running}/{len(self.supervisor.status)} running; broker {broker}; "
            f"outbox {self.outbox.count} pending{' FULL' if self.outbox.full else ''}"
            f"{' WRITE FAILING' if self.outbox.writes.failing else ''}"
            f"{' DAMAGED' if self.outbox.damage.open_incidents() else ''}"
        )

    def core_healthy(self) -> bool:
        """What gates the watchdog: the parts without which nothing is stored or sent."""
        return self._tasks_alive

    def _stop_with(self, status: int) -> None:
        self.exit_status = status
        self._stop.set()

    async def run(self, stop: asyncio.Event) -> int:
        self._stop = stop
        await self.outbox.open()  # OutboxError propagates: reported by the CLI, exit 73
        await self.quarantine.open()
        self.remote.ring.install()
        if self.web is not None:
            await self.web.start()  # a failure is a health problem, not a reason to stop
        if self.settings.metrics.enabled:  # a failure is a health problem (metrics.problem)
            self.metrics.serve(self.settings.metrics.address, self.settings.metrics.port)
        self.build_drivers()
        self.bridge_info.publish()
        self.inventory.publish()
        self.bridge_health.publish()
        self._tasks_alive = True
        publisher = asyncio.create_task(self.publisher.run(), name="publisher")
        supervisor = asyncio.create_task(self.supervisor.run(), name="supervisor")
        status = asyncio.create_task(self._status_loop(), name="status")
        for task in (publisher, supervisor):
            task.add_done_callback(self._core_task_done)
        self.ready_at = time.monotonic()
        self.notifier.ready(self.status_line())
        log.info("passerelle %s ready: %s", __version__, self.status_line())
        try:
            await stop.wait()
        finally:
            self.notifier.stopping()
            log.info("stopping: %s", self.status_line())
            supervisor.cancel()
            await asyncio.gather(supervisor, return_exceptions=True)
            await self._drain_briefly()
            self.inventory.all_offline()
            await asyncio.sleep(
                0.2 if self.publisher.stats.connected else 0
            )  # let retained offline states go
            await self.publisher.stop()
            if self.web is not None:
                await self.web.stop()
            status.cancel()
            await _cancel_for_sure(publisher)
            await asyncio.gather(publisher, status, return_exceptions=True)
            await self.quarantine.close()
            await self.outbox.close()
            self.notifier.close()
            log.info("stopped; %d events remain in the outbox for the next start", self.outbox.count)
            self.remote.close()
        return self.exit_status

    async def _drain_briefly(self) -> None:
        deadline = time.monotonic() + SHUTDOWN_DRAIN_SECONDS
        # A short poll: the outbox has no "empty" event and this runs once, at shutdown.
        while self.outbox.count and self.publisher.stats.connected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    def _core_task_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._tasks_alive = False
            log.critical("core task %s died: %r", task.get_name(), task.exception())

    async def _status_loop(self) -> None:
        watchdog = watchdog_interval()
        last_watchdog = 0.0
        last_status = ""
        while True:
            now = time.monotonic()
            if watchdog is not None and now - last_watchdog >= watchdog and self.core_healthy():
                self.notifier.watchdog()
                last_watchdog = now
            if self.outbox.damage.open_incidents():
                self.outbox.damage.refresh()  # an acknowledgement from the CLI, while there is one to make
            line = self.status_line()
            if line != last_status:
                self.notifier.status(line)
                last_status = line
                self.bridge_health.publish()
            await asyncio.sleep(min(STATUS_INTERVAL, watchdog or STATUS_INTERVAL))


async def _cancel_for_sure(task: asyncio.Task[None]) -> None:
    """Cancel until it is done: on Python 3.11, asyncio.wait_for (inside aiomqtt's connect) can swallow
    a cancellation that lands just as the connection completes."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)
