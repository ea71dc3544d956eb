"""The PC/SC driver: readers as devices, cards as events, the reader's slots as retained state.

The I/O shell around the slot logic (slot_state.py): it runs the PC/SC watcher thread, feeds its
observations to the state machine, publishes what comes back and performs the public data reads the
machine asks for (shared connections that leave the card powered: never reset, power-cycled or held
exclusively)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    DriverContext,
    DriverEvent,
    DriverItem,
    RequestHandler,
)
from passerelle.drivers.card.atr import CardType
from passerelle.drivers.card.card_data import CardSource, card_data
from passerelle.drivers.card.config import CardSection, PcscSource
from passerelle.drivers.card.events import CARD_DATA_SCHEMA, CardData
from passerelle.drivers.card.monitor import Observation, PcscMonitor, ServiceUp
from passerelle.drivers.card.pcsc_api import PcscApi, ScardApi, bind_socket
from passerelle.drivers.card.public_read import PublicDataReader, ReadResult
from passerelle.drivers.card.slot_state import FAMILY_NAME, ReadPublicData, SlotStateMachine, settled_read
from passerelle.drivers.card.slots import Reader, Slot

log = logging.getLogger(__name__)

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
        self._slots = SlotStateMachine(reads_public_data=section.read_public_data.allows)
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
        return [reader.info for reader in self._slots.readers.values()]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {"card-read": self._handle_read_request, "card-list": self._handle_list_request}

    def _apply(self, observation: Observation) -> Iterator[DriverItem]:
        """The items an observation gives; starts the public data reads the slot logic asks for."""
        if isinstance(observation, ServiceUp):
            log.info("PC/SC service available")
        for output in self._slots.observe(observation, time.monotonic()):
            if isinstance(output, ReadPublicData):
                self._spawn(self._read_and_publish(output.reader, output.slot))
            else:
                yield output

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
        result = settled_read(slot, session, result)
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
        cards = self._slots.cards_to_read(request.get("reader_id"), request.get("slot"))
        return [
            (await self._read_and_publish(reader, slot)).model_dump(mode="json") for reader, slot in cards
        ]

    async def _handle_list_request(self, request: Mapping[str, Any]) -> Any:
        return self._slots.listing()


def create_drivers(section: CardSection, context: DriverContext) -> list[CardDriver]:
    return [CardDriver(section, source, context) for source in section.devices]
