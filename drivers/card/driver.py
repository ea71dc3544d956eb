"""The PC/SC driver: readers as devices, cards as events, the reader's slots as retained state."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    DeviceState,
    DriverContext,
    DriverEvent,
    DriverItem,
    RequestError,
    RequestHandler,
)
from passerelle.drivers.card.atr import PATIENT_CARDS, PROFESSIONAL_CARDS, CardType, Classification, describe
from passerelle.drivers.card.card_data import CardSource, card_data
from passerelle.drivers.card.config import CardSection, PcscSource
from passerelle.drivers.card.events import (
    CARD_DATA_SCHEMA,
    CARD_SCHEMA,
    CardData,
    CardEvent,
    SlotStatusName,
)
from passerelle.drivers.card.identity import device_id, parse_reader_name
from passerelle.drivers.card.monitor import (
    Observation,
    PcscMonitor,
    ReaderAdded,
    ReaderRemoved,
    ServiceDown,
    ServiceUp,
    SlotStatus,
)
from passerelle.drivers.card.pcsc_api import PcscApi, ScardApi, bind_socket
from passerelle.drivers.card.public_read import PublicDataReader, ReadResult
from passerelle.drivers.card.slots import CARD_STATUSES, Reader, Slot, slot_holding
from passerelle.drivers.card.snapshot import slot_status

log = logging.getLogger(__name__)

FAMILY_NAME = "card"
DRIVER_NAME = "pcsc"
OWN_USE_GRACE_S = 1.0  # our own read makes pcscd report "in use": ignore that for this long after it


class CardDriver:
    def __init__(
        self,
        section: CardSection,
        source: PcscSource,
        context: DriverContext,
        *,
        api: PcscApi | None = None,
        public_reader: PublicDataReader | None = None,
    ) -> None:
        self._section = section
        self._source = source
        self._context = context
        self._api = api
        self._public_reader = public_reader
        self._readers: dict[str, Reader] = {}
        self._by_name: dict[str, tuple[str, int]] = {}
        self._queue: asyncio.Queue[Observation | DriverItem] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._monitor: PcscMonitor | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        self._reading: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stopped = False

    @property
    def name(self) -> str:
        return f"{FAMILY_NAME}/{self._source.name}"

    @property
    def monitor(self) -> PcscMonitor | None:
        return self._monitor

    async def start(self) -> None:
        socket = self._source.pcsc_socket
        bind_socket(str(socket) if socket is not None else None)
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stopped = False
        self._read_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="card-read")
        self._monitor = PcscMonitor(
            self._api or ScardApi(),
            self._from_thread,
            wait_ms=self._section.status_wait_ms,
            backoff_initial=self._section.reconnect_initial_s,
            backoff_max=self._section.reconnect_max_s,
        )
        self._monitor.start()

    async def stop(self) -> None:
        self._stopped = True
        monitor, self._monitor = self._monitor, None
        if monitor is not None:
            await asyncio.to_thread(monitor.stop)
        for task in list(self._tasks):
            task.cancel()
        if self._read_pool is not None:
            self._read_pool.shutdown(wait=False, cancel_futures=True)

    def _from_thread(self, observation: Observation) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._queue.put_nowait, observation)

    async def events(self) -> AsyncIterator[DriverItem]:
        while not self._stopped:
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation that
                # races the queue, and the consumer would never stop.
                async with asyncio.timeout(5.0):
                    item = await self._queue.get()
            except TimeoutError:
                if self._monitor is not None and not self._monitor.alive:
                    raise RuntimeError("PC/SC monitor thread ended") from None
                continue
            if isinstance(item, DriverEvent | DeviceChange):
                yield item
            else:
                for produced in self._apply(item):
                    yield produced

    def devices(self) -> Sequence[DeviceInfo]:
        return [reader.info for reader in self._readers.values()]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {"card-read": self._handle_read_request, "card-list": self._handle_list_request}

    # -- state machine -------------------------------------------------------------------------

    def _apply(self, observation: Observation) -> Iterator[DriverItem]:
        if isinstance(observation, ServiceUp):
            log.info("PC/SC service available")
        elif isinstance(observation, ServiceDown):
            yield from self._service_lost()
        elif isinstance(observation, ReaderAdded):
            yield from self._reader_added(observation.name)
        elif isinstance(observation, ReaderRemoved):
            yield from self._reader_removed(observation.name)
        else:
            yield from self._slot_status(observation)

    def _service_lost(self) -> Iterator[DriverItem]:
        for reader in self._readers.values():
            told = False  # the retained state must say "unavailable" even when no card was in
            for slot in reader.slots.values():
                if slot.has_card:
                    yield self._removed(reader, slot, "pcscd_unavailable", new_status="unavailable")
                    told = True
                else:
                    slot.status = "unavailable"
            if not told and reader.slots and reader.info.state is DeviceState.ONLINE:
                first = reader.slots[min(reader.slots)]
                yield self._event(reader, "state", first, reason="pcscd_unavailable")
            if reader.info.state is DeviceState.ONLINE:
                reader.info = replace(reader.info, state=DeviceState.OFFLINE, problem="pcscd unavailable")
                yield DeviceChange(reader.info)
        self._by_name.clear()

    def _reader_added(self, pcsc_name: str) -> Iterator[DriverItem]:
        name = parse_reader_name(pcsc_name)
        ident = device_id(name)
        existing = self._readers.get(ident)
        if existing is not None:
            taken = existing.slots.get(name.slot)
            same_slot_busy = (
                taken is not None and taken.pcsc_name != pcsc_name and taken.pcsc_name in self._by_name
            )
            if existing.name.base != name.base or same_slot_busy:
                # Two identical readers without a serial (or two names with one slug): only the plug
                # order can tell them apart.
                ident = f"{ident}-{name.index or 0}"
                existing = self._readers.get(ident)
        if existing is None:
            info = DeviceInfo(
                id=ident, family=FAMILY_NAME, driver=DRIVER_NAME, model=name.model, interface=name.base
            )
            existing = self._readers[ident] = Reader(info=info, name=name)
            yield DeviceChange(info)
        elif existing.info.state is not DeviceState.ONLINE:
            existing.info = replace(existing.info, state=DeviceState.ONLINE, problem=None)
            yield DeviceChange(existing.info)
        slot = existing.slots.get(name.slot)
        if slot is None:
            existing.slots[name.slot] = Slot(pcsc_name=pcsc_name, slot=name.slot)
        else:
            slot.pcsc_name = pcsc_name
        self._by_name[pcsc_name] = (ident, name.slot)

    def _reader_removed(self, pcsc_name: str) -> Iterator[DriverItem]:
        where = self._by_name.pop(pcsc_name, None)
        if where is None:
            return
        reader = self._readers[where[0]]
        slot = reader.slots[where[1]]
        if slot.has_card:
            yield self._removed(reader, slot, "reader_removed", new_status="unavailable")
        else:
            slot.status = "unavailable"
            yield self._event(reader, "state", slot)
        if all(s.status == "unavailable" for s in reader.slots.values()):
            reader.info = replace(reader.info, state=DeviceState.OFFLINE, problem="reader removed")
            yield DeviceChange(reader.info)

    def _slot_status(self, observation: SlotStatus) -> Iterator[DriverItem]:
        where = self._by_name.get(observation.name)
        if where is None:
            return
        reader = self._readers[where[0]]
        slot = reader.slots[where[1]]
        status = slot_status(observation.flags, in_use_is_ours=time.monotonic() < slot.own_use_until)
        atr = observation.atr if status in ("present", "in_use") else None
        had_card, has_card = slot.has_card, status in CARD_STATUSES
        if had_card and has_card and (observation.card_events > 0 or atr != slot.atr):
            # Pulled and put back (maybe another card) between two polls: the counter tells.
            yield self._removed(reader, slot, None, new_status="empty")
            yield from self._inserted(reader, slot, status, atr)
        elif had_card and not has_card:
            yield self._removed(reader, slot, None, new_status=status)
        elif has_card and not had_card:
            yield from self._inserted(reader, slot, status, atr)
        elif status != slot.status:
            slot.status = status
            yield self._event(reader, "state", slot)

    def _inserted(
        self, reader: Reader, slot: Slot, status: SlotStatusName, atr: bytes | None
    ) -> Iterator[DriverItem]:
        slot.status = status
        slot.atr = atr
        slot.card = describe(atr) if atr else None
        slot.card_session_id = str(uuid.uuid4())
        yield self._event(reader, "inserted", slot)
        if slot.card is not None and self._section.read_public_data.allows(
            reader.info.id, slot.card.card_type
        ):
            self._spawn(self._read_and_publish(reader, slot))

    def _removed(
        self, reader: Reader, slot: Slot, reason: str | None, new_status: SlotStatusName
    ) -> DriverEvent:
        card, session = slot.card, slot.card_session_id
        slot.status, slot.atr, slot.card, slot.card_session_id = new_status, None, None, None
        return self._event(reader, "removed", slot, card=card, card_session_id=session, reason=reason)

    def _event(
        self,
        reader: Reader,
        kind: str,
        slot: Slot,
        *,
        card: Classification | None = None,
        card_session_id: str | None = None,
        reason: str | None = None,
    ) -> DriverEvent:
        if card is None and slot.has_card:
            card, card_session_id = slot.card, slot.card_session_id
        slots = [reader.slots[number].state() for number in sorted(reader.slots)]
        data = CardEvent(
            event=kind,
            reader=reader.name.base,
            reader_id=reader.info.id,
            slot=slot.slot,
            atr=card.atr if card else None,
            card_type=card.card_type if card else None,
            label=card.label if card else None,
            card_session_id=card_session_id if card else None,
            reason=reason,
            slots=slots,
            patient_card_slot=slot_holding(slots, PATIENT_CARDS),
            professional_card_slot=slot_holding(slots, PROFESSIONAL_CARDS),
        )
        return DriverEvent(device=reader.info, schema=CARD_SCHEMA, data=data, retained_state="state")

    # -- public data ---------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _read_and_publish(self, reader: Reader, slot: Slot) -> CardData:
        data = await self.read_public_data(reader, slot)
        self._queue.put_nowait(DriverEvent(device=reader.info, schema=CARD_DATA_SCHEMA, data=data))
        return data

    async def read_public_data(self, reader: Reader, slot: Slot) -> CardData:
        card, session = slot.card, slot.card_session_id
        assert card is not None
        pcsc_name = slot.pcsc_name
        if pcsc_name in self._reading:
            result = ReadResult("in_use", "a previous read of this card is still pending")
        else:
            result = await self._read_in_thread(slot, card.card_type)
        if slot.card_session_id != session:
            # Pulled (maybe swapped) during the read: what was read may belong to either card.
            result = ReadResult("card_removed", "the card left the slot during the read")
        source = CardSource(reader.name.base, reader.info.id, slot.slot, card.card_type, session)
        return card_data(source, self._section, result)

    async def _read_in_thread(self, slot: Slot, card_type: CardType) -> ReadResult:
        loop = asyncio.get_running_loop()
        if self._public_reader is None:
            self._public_reader = PublicDataReader()
        pcsc_name = slot.pcsc_name
        self._reading.add(pcsc_name)
        slot.own_use_until = float("inf")
        future = loop.run_in_executor(self._read_pool, self._public_reader.read, pcsc_name, card_type)

        def finished(_: object) -> None:
            self._reading.discard(pcsc_name)
            slot.own_use_until = time.monotonic() + OWN_USE_GRACE_S

        future.add_done_callback(finished)
        try:
            async with asyncio.timeout(self._section.read_timeout_s):
                return await asyncio.shield(future)
        except TimeoutError:
            # The worker stays blocked until the card answers; the card is never reset to free it.
            return ReadResult("timeout", f"no answer within {self._section.read_timeout_s:.1f} s")

    async def _handle_read_request(self, request: Mapping[str, Any]) -> Any:
        reader_id = request.get("reader_id")
        reader = self._readers.get(reader_id) if isinstance(reader_id, str) else None
        if reader is None:
            raise RequestError("not_found", f"no reader {reader_id!r}")
        wanted = request.get("slot")
        slots = [s for s in reader.slots.values() if s.has_card and s.card is not None]
        if wanted is not None:
            slots = [s for s in slots if s.slot == wanted]
        if not slots:
            raise RequestError("no_card", "no card in that reader or slot")
        results = []
        for slot in slots:
            assert slot.card is not None
            if not self._section.read_public_data.allows(reader.info.id, slot.card.card_type):
                raise RequestError("not_enabled", "public data reading is not enabled for this card")
            data = await self._read_and_publish(reader, slot)
            results.append(data.model_dump(mode="json"))
        return results

    async def _handle_list_request(self, request: Mapping[str, Any]) -> Any:
        return [
            {
                "reader_id": reader.info.id,
                "reader": reader.name.base,
                "state": reader.info.state.value,
                "slots": [reader.slots[n].state().model_dump(mode="json") for n in sorted(reader.slots)],
            }
            for reader in self._readers.values()
        ]


def create_drivers(section: CardSection, context: DriverContext) -> list[CardDriver]:
    return [CardDriver(section, source, context) for source in section.devices]
