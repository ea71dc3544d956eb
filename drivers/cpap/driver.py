"""Feed drivers: a watched folder of SD-card mounts, or a folder of observance export files.

Each change of the folder (inotify, mount table, slow fallback) rescans only the folder's first
levels; a card or file whose signature (size, mtime) is unchanged is not read again. What is read goes
through the pure planner (feed.py) against the import ledger; the events are yielded with an ``ack``
future each, and the ledger is saved only once the core has stored all of them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import date
from pathlib import Path

from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    DriverContext,
    DriverEvent,
    DriverItem,
    RequestHandler,
)
from passerelle.daemon.event_ids import stable_event_id
from passerelle.drivers.cpap.config import CpapSection, CpapSource
from passerelle.drivers.cpap.exports import read_export
from passerelle.drivers.cpap.feed import DeviceBatch, Plan, device_id, plan_import
from passerelle.drivers.cpap.ledger import Ledger
from passerelle.drivers.cpap.problems import Problem, ProblemCode
from passerelle.drivers.cpap.resmed import Identity, is_card, read_card
from passerelle.drivers.cpap.watch import FolderWatch

log = logging.getLogger(__name__)
Signature = tuple[tuple[str, int, int], ...]


def card_signature(card: Path) -> Signature:
    parts = []
    for name in ("STR.edf", "Identification.tgt", "Identification.json"):
        try:
            st = (card / name).stat()
        except OSError:
            continue
        parts.append((name, st.st_size, st.st_mtime_ns))
    return tuple(parts)


def find_cards(root: Path, depth: int) -> list[Path]:
    found: list[Path] = []
    frontier = [root]
    for _ in range(depth + 1):
        nxt: list[Path] = []
        for folder in frontier:
            if is_card(folder):
                found.append(folder)
                continue
            try:
                nxt += sorted(p for p in folder.iterdir() if p.is_dir())
            except OSError:
                continue
        frontier = nxt
    return found


class ObservanceDriver:
    def __init__(
        self,
        source: CpapSource,
        section: CpapSection,
        context: DriverContext,
        today: Callable[[], date] = date.today,
    ) -> None:
        self.source = source
        self.today = today  # the clock of prescription alerts (injectable for tests)
        self._reviewed_on: date | None = None
        self.section = section
        self.station = context.station
        self.ledger = Ledger(context.state_dir / "cpap" / source.id)
        self.watch = FolderWatch(
            source.path, source.depth, source.fallback_poll_seconds, source.settle_seconds
        )
        self._seen: dict[Path, Signature] = {}
        self._devices: dict[str, DeviceInfo] = {}
        self.device = DeviceInfo(
            id=source.id,
            family="cpap",
            driver=f"cpap-{source.kind}",
            model="SD-card folder" if source.kind == "sdcard" else "export folder",
            interface=str(source.path),
        )
        self.imports = 0  # completed imports that published something (for health/tests)

    @property
    def name(self) -> str:
        return f"cpap/{self.source.id}"

    async def start(self) -> None:
        self.source.path.mkdir(parents=True, exist_ok=True)
        self.watch.start()

    async def stop(self) -> None:
        self.watch.stop()

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device, *self._devices.values()]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        async for _reason in self.watch.changes():
            for target in self._changed_targets():
                async for item in self._import(target):
                    yield item
            if self._reviewed_on != self.today():
                # Once a day, re-evaluate every known device from its ledger: a prescription-end
                # alert must move to "due_soon" even if the patient's card is never inserted again.
                async for item in self._review():
                    yield item

    async def _review(self) -> AsyncIterator[DriverItem]:
        self._reviewed_on = self.today()
        known = await asyncio.to_thread(self.ledger.known_devices)
        for serial, patient in known:  # one device at a time: bounded memory, the loop breathes
            async for item in self._publish([DeviceBatch(Identity(serial), [], patient)], []):
                yield item

    def _changed_targets(self) -> list[Path]:
        if self.source.kind == "sdcard":
            current = {card: card_signature(card) for card in find_cards(self.source.path, self.source.depth)}
        else:
            current = {}
            try:
                for p in sorted(self.source.path.iterdir()):
                    if p.is_file() and p.suffix.lower() == ".csv":
                        st = p.stat()
                        current[p] = ((p.name, st.st_size, st.st_mtime_ns),)
            except OSError as exc:
                log.warning("cpap source %s unreadable: %s", self.source.id, exc.strerror)
        changed = [p for p, sig in current.items() if self._seen.get(p) != sig]
        self._seen = current  # a removed card is forgotten: re-inserting it re-checks (ledger dedupes)
        return changed

    async def _read(self, target: Path) -> tuple[list[DeviceBatch], list[Problem]]:
        if self.source.kind == "sdcard":
            card = await asyncio.to_thread(read_card, target)
            if card.identity is None:
                return [], card.problems
            return [DeviceBatch(card.identity, card.days, None, card.datalog, card.excluded)], card.problems
        export = await asyncio.to_thread(read_export, target, self.source.csv)
        batches = [
            DeviceBatch(Identity(dev.serial), list(dev.days.values()), dev.patient_ref)
            for dev in export.devices.values()
        ]
        return batches, export.problems

    async def _import(self, target: Path) -> AsyncIterator[DriverItem]:
        try:
            batches, problems = await self._read(target)
        except Exception as exc:  # a card pulled out mid-read, an unexpected file: report, keep running
            name = target.name if self.source.kind == "export" else "."
            batches = []
            problems = [Problem(ProblemCode.SOURCE_UNREADABLE, name, f"{type(exc).__name__}: {exc}")]
        async for item in self._publish(batches, problems):
            yield item

    async def _publish(
        self, batches: list[DeviceBatch], problems: list[Problem]
    ) -> AsyncIterator[DriverItem]:
        plan = plan_import(
            batches,
            problems,
            source=self.source.id,
            kind=self.source.kind,
            section=self.section,
            ledgers=await asyncio.to_thread(self.ledger.devices, [b.identity.serial for b in batches]),
            known_problems=self.ledger.problems,
            today=self.today(),
        )
        if not plan.events:
            log.info("cpap %s: import with nothing new", self.source.id)
            return
        # Announce the devices this import publishes about (not every device the ledger knows).
        with_events = {ev.serial for ev in plan.events if ev.serial is not None}
        for batch in batches:
            serial = batch.identity.serial
            if serial not in with_events:
                continue
            known = self._devices.get(serial)
            info = DeviceInfo(
                id=device_id(serial),
                family="cpap",
                driver=f"cpap-{self.source.kind}",
                # A batch without a model (an export, the daily review) keeps the one a card gave.
                model=batch.identity.model or (known.model if known else None),
                interface=self.source.id,
            )
            if info != known:
                self._devices[serial] = info
                yield DeviceChange(info)
        loop = asyncio.get_running_loop()
        acks: list[asyncio.Future[None]] = []
        for ev in plan.events:
            ack: asyncio.Future[None] = loop.create_future()
            acks.append(ack)
            device = self.device if ev.serial is None else self._devices[ev.serial]
            yield DriverEvent(
                device=device,
                schema=ev.schema,
                data=ev.data,
                # The planner's id is stable per source and content; the station makes it fleet-unique.
                event_id=stable_event_id(self.station, "cpap", self.source.id, str(ev.event_id)),
                retained_state=ev.retained_state,
                ack=ack,
            )
        await self._commit(plan, acks)

    async def _commit(self, plan: Plan, acks: list[asyncio.Future[None]]) -> None:
        results = await asyncio.gather(*acks, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            # Not stored: keep the ledger as it was, so the next scan publishes the same events again
            # (same ids: consumers dedupe).
            log.error(
                "cpap %s: %d event(s) not stored (%s); will retry", self.source.id, len(failed), failed[0]
            )
            self._seen.clear()
            self._reviewed_on = None
            return
        await asyncio.to_thread(self.ledger.commit, plan.ledgers, plan.problems_key)
        self.imports += 1
        by_code = Counter(p.code for p in plan.counts.problems)
        log.log(
            logging.WARNING if by_code else logging.INFO,
            "cpap %s: imported %d new / %d changed days, %d periods, %d problem(s)%s",
            self.source.id,
            plan.counts.days_new,
            plan.counts.days_changed,
            plan.counts.periods_new,
            len(plan.counts.problems),
            # Which kinds (e.g. implausible_day=2): the details are in the import event.
            "".join(f", {code}={n}" for code, n in sorted(by_code.items())),
        )
