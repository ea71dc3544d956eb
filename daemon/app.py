"""The daemon: wires configuration, drivers, outbox, publisher and supervision together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Mapping
from typing import Any

from passerelle.daemon import __version__
from passerelle.daemon.config import LoadedConfig
from passerelle.daemon.driver import Driver, DriverContext, DriverEvent, DriverItem, RequestHandler
from passerelle.daemon.events import LOSS_SCHEMA, LossData, envelope_json, loss_json
from passerelle.daemon.family import Family, FamilyLoadError, event_leaf
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.metrics import DriverReading, Metrics, Readings
from passerelle.daemon.outbox import DroppedRows, Outbox, OutboxRow
from passerelle.daemon.outbox_admin import request_handler as outbox_request
from passerelle.daemon.outbox_health import outbox_problems, outbox_trouble
from passerelle.daemon.publisher import Publisher
from passerelle.daemon.quarantine import QuarantineStore
from passerelle.daemon.remote_ops import RemoteOps
from passerelle.daemon.requests import RequestRouter
from passerelle.daemon.retained import RetainedStore
from passerelle.daemon.sdnotify import Notifier, watchdog_interval
from passerelle.daemon.supervisor import Supervisor
from passerelle.daemon.topics import Topics
from passerelle.daemon.web.attach import attach_web

log = logging.getLogger(__name__)

INGEST_WINDOW = 256  # events a driver may have handed over but not yet committed
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
        self.settings = config.settings
        self.families = dict(families)
        self.family_errors = family_errors or []
        self.topics = Topics(self.settings.base_topic)
        self.retained = RetainedStore()
        self.inventory = Inventory(self.topics, self.retained)
        self.metrics = Metrics()
        self.notifier = Notifier()
        self.outbox = Outbox(
            self.settings.outbox_path,
            max_events=self.settings.outbox.max_events,
            max_bytes=self.settings.outbox.max_bytes,
            when_full=self.settings.outbox.when_full,
            loss_event=self._loss_event,
        )
        self.outbox.on_full = self._on_outbox_full
        self.outbox.on_trouble = self._publish_health
        self.quarantine = QuarantineStore(self.settings.outbox_path, self.outbox, self._publish_health)
        self.driver_family: dict[str, Family] = {}
        self.supervisor = Supervisor(self._ingest, on_change=self._publish_health)
        self.exit_status = 0  # 75 after a remote restart request
        self._stop = asyncio.Event()
        self.remote = RemoteOps(self, self._stop_with)
        self.router = RequestRouter(self._core_handlers(), self._driver_handlers, topics=self.topics)
        self.publisher = Publisher(
            self.settings.mqtt,
            client_id=self.settings.client_id,
            topics=self.topics,
            outbox=self.outbox,
            retained=self.retained,
            router=self.router,
        )
        self.publisher.stats.on_published = self._on_published
        self.web = attach_web(self)  # the browser endpoint (None when web.enabled is false)
        self.publisher.delivery.set_aside = self.quarantine.set_aside
        self._windows: dict[str, asyncio.Semaphore] = {}
        self.ready_at: float | None = None
        self.metrics_problem: str | None = None
        self._tasks_alive = False
        self.metrics.collector.read = self._metric_readings

    @property
    def drivers(self) -> list[Driver]:
        return self.supervisor.drivers

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
                self.driver_family[driver.name] = family
                self.supervisor.add(driver)
        for driver in self.drivers:
            with contextlib.suppress(Exception):
                for device in driver.devices():
                    self.inventory.update(device)

    # -- the event path --------------------------------------------------------------------------

    async def _ingest(self, driver: Driver, item: DriverItem) -> None:
        if not isinstance(item, DriverEvent):
            self.inventory.update(item.device, item.removed)
            return
        family = self.driver_family[driver.name]
        if not self.inventory.valid_id(item.device.id):
            log.error("driver %s emitted an event for an invalid device id; dropped", driver.name)
            self._fail_ack(item, ValueError("invalid device id"))
            return
        event_id, payload = envelope_json(self.settings.station, item)
        self.metrics.collector.count_received(family.name)
        topic = self.topics.channel(_channel_of(family, item.schema))
        too_large = self.publisher.delivery.refuse_oversized(topic, payload)
        if too_large is not None:  # it would block the outbox: the driver is told, nothing is stored
            log.error("driver %s: %s %s", driver.name, item.schema, too_large)
            self._fail_ack(item, too_large)
            return
        window = self._windows.setdefault(driver.name, asyncio.Semaphore(INGEST_WINDOW))
        try:
            await window.acquire()
        except asyncio.CancelledError:  # stopping: every ack is completed or failed, never left hanging
            self._fail_ack(item, RuntimeError("daemon stopping; event not stored"))
            raise
        committed = self.outbox.submit(event_id, topic, payload)
        if item.retained_state:
            self.retained.set(self.topics.device_state(item.device.id, item.retained_state), payload)

        def settle(done: asyncio.Future[int]) -> None:
            window.release()
            error = done.exception()
            if error is not None:
                self._fail_ack(item, error)
            elif item.ack is not None and not item.ack.done():
                item.ack.set_result(None)

        committed.add_done_callback(settle)

    @staticmethod
    def _fail_ack(item: DriverEvent, error: BaseException) -> None:
        if item.ack is not None and not item.ack.done():
            item.ack.set_exception(error)
        elif item.ack is None:
            log.error("event from %s not stored: %s", item.device.id, error)

    def _loss_event(self, dropped: DroppedRows) -> tuple[str, Any, bytes]:
        data = LossData(
            dropped=dropped.count,
            first_event_id=dropped.first_event_id,
            last_event_id=dropped.last_event_id,
            reason=dropped.reason,
        )
        event_id, payload = loss_json(self.settings.station, data)
        return self.topics.loss, event_id, payload

    def _on_published(self, row: OutboxRow, seconds: float) -> None:
        self.metrics.collector.observe_latency(seconds)

    def _on_outbox_full(self, full: bool) -> None:
        self._publish_health()

    # -- bridge topics and requests --------------------------------------------------------------

    def _schemas(self) -> list[str]:
        schemas = {LOSS_SCHEMA}
        for family in self.families.values():
            schemas.update(event.schema for event in family.events)
        return sorted(schemas)

    def info(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "station": self.settings.station,
            "base_topic": self.topics.base,
            "schemas": self._schemas(),
            "families": sorted(self.families),
            "unavailable_families": {e.name: e.reason for e in self.family_errors},
            "drivers": [{"name": d.name, "family": self.driver_family[d.name].name} for d in self.drivers],
            "commands": self.router.commands(),
            "config": self.settings.summary(),
        }

    def health(self) -> dict[str, Any]:
        problems: list[str] = []
        status = "green"
        if self.outbox.full:
            status = "red"
            problems.append(f"outbox full ({self.outbox.count} events); policy {self.outbox.when_full}")
        problems += outbox_problems(self.outbox)
        status = "red" if problems else status
        if self.quarantine.problem:
            status = "red" if status == "red" else "yellow"
            problems.append(self.quarantine.problem)
        if not self.publisher.stats.connected:
            status = "red" if status == "red" else "yellow"
            problems.append(
                f"broker not connected ({self.publisher.stats.last_error or 'connecting'}): "
                "events are stored and will be published on reconnect"
            )
        if self.metrics_problem:
            status = "red" if status == "red" else "yellow"
            problems.append(self.metrics_problem)
        if self.web is not None and self.web.problem:
            status = "red" if status == "red" else "yellow"
            problems.append(self.web.problem)
        for name, driver_status in self.supervisor.status.items():
            if driver_status.state in ("backoff", "disabled"):
                status = "red" if status == "red" else "yellow"
                problems.append(f"driver {name} {driver_status.state}: {driver_status.last_error}")
        return {
            "status": status,
            "problems": problems,
            "broker": {
                "connected": self.publisher.stats.connected,
                "server": self.publisher.stats.server,  # in use, or being tried when not connected
                "connects": self.publisher.stats.connects_total,
                "last_error": self.publisher.stats.last_error,
                # MQTT 5 brokers may cap the publishes in flight below mqtt.max_inflight.
                "receive_maximum": self.publisher.stats.broker_receive_maximum,
            },
            "outbox": {
                "pending": self.outbox.count,
                "bytes": self.outbox.size,
                "full": self.outbox.full,
                "oldest_age_seconds": round(time.time() - self.outbox.oldest_created_at, 3)
                if self.outbox.oldest_created_at
                else 0.0,
                "refused": self.outbox.refused_total,
                "dropped": self.outbox.dropped_total,
                **outbox_trouble(self.outbox),
                "quarantined": self.quarantine.count,
                "too_large": self.publisher.delivery.refused_too_large,
            },
            "drivers": {name: s.as_dict() for name, s in self.supervisor.status.items()},
            # Hostile or broken requests cost only their answer; they show here, not as a problem.
            "requests": {
                "results": dict(self.router.results),
                "answers_unpublished": self.publisher.stats.answers_failed,
            },
            "sd_notify_dropped": self.notifier.dropped,
            **({"web": self.web.stats()} if self.web is not None else {}),
        }

    def _publish_health(self) -> None:
        health = self.health()
        # The retained summary stays stable; the health request gives the details.
        for detail in ("drivers", "requests", "web"):
            health.pop(detail, None)
        kept = ("full", "refused", "dropped", "write_error", "unstored", "damage", "quarantined")
        health["outbox"] = {k: health["outbox"][k] for k in kept}
        self.retained.set(self.topics.health, json.dumps(health, sort_keys=True).encode())

    def _core_handlers(self) -> dict[str, RequestHandler]:
        async def ping(_: Mapping[str, Any]) -> Any:
            return {"pong": True, "version": __version__}

        async def info(_: Mapping[str, Any]) -> Any:
            return self.info()

        async def devices(_: Mapping[str, Any]) -> Any:
            return self.inventory.snapshot()

        async def health(_: Mapping[str, Any]) -> Any:
            return self.health()

        async def damage_ack(_: Mapping[str, Any]) -> Any:
            return {"acknowledged": await self.outbox.acknowledge_damage()}

        return {
            "ping": ping,
            "info": info,
            "devices": devices,
            "health": health,
            "outbox": outbox_request(self.quarantine),
            "outbox-damage-ack": damage_ack,
            **self.remote.handlers(),
        }

    def _driver_handlers(self) -> dict[str, RequestHandler]:
        handlers: dict[str, RequestHandler] = {}
        for driver in self.drivers:
            with contextlib.suppress(Exception):
                handlers.update(driver.request_handlers())
        return handlers

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
        if self.settings.metrics.enabled:
            try:
                self.metrics.serve(self.settings.metrics.address, self.settings.metrics.port)
            except OSError as exc:  # metrics are for operators; events matter more: keep running
                where = f"{self.settings.metrics.address}:{self.settings.metrics.port}"
                self.metrics_problem = f"metrics endpoint {where}: {exc.strerror or exc}"
                log.error("%s; running without metrics", self.metrics_problem)
        self.build_drivers()
        self.retained.set(self.topics.info, json.dumps(self.info(), sort_keys=True).encode())
        self.inventory.publish()
        self._publish_health()
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
                self._publish_health()
            await asyncio.sleep(min(STATUS_INTERVAL, watchdog or STATUS_INTERVAL))

    def _metric_readings(self) -> Readings:
        """Called from the metrics thread at each scrape: copies, never iterates live collections."""
        stats, outbox = self.publisher.stats, self.outbox
        oldest = outbox.oldest_created_at
        return Readings(
            published={"ok": stats.published_total, "failed": stats.failed_total},
            outbox_pending=outbox.count,
            outbox_bytes=outbox.size,
            outbox_oldest_age=time.time() - oldest if oldest else 0.0,
            outbox_full=outbox.full,
            outbox_refused=outbox.refused_total,
            outbox_dropped=outbox.dropped_total,
            outbox_write_errors=outbox.writes.errors_total,
            outbox_writable=not outbox.writes.failing,
            outbox_unstored=outbox.writes.unstored_total,
            outbox_damaged=len(outbox.damage.open_incidents()),
            outbox_quarantined=self.quarantine.count,
            quarantined_total=self.quarantine.quarantined_total,
            too_large_total=self.publisher.delivery.refused_too_large,
            mqtt_connected=stats.connected,
            requests=dict(self.router.results),
            request_answers_unpublished=stats.answers_failed,
            sd_notify_dropped=self.notifier.dropped,
            drivers={
                name: DriverReading(up=status.state == "running", restarts=status.restarts)
                for name, status in dict(self.supervisor.status).items()
            },
        )


async def _cancel_for_sure(task: asyncio.Task[None]) -> None:
    """Cancel until it is done: on Python 3.11, asyncio.wait_for (inside aiomqtt's connect) can swallow
    a cancellation that lands just as the connection completes."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=0.5)


def _channel_of(family: Family, schema: str) -> str:
    """The topic leaf of ``schema``; a schema the family did not declare goes to the family's name."""
    return event_leaf(family, schema)
