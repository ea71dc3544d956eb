from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from uuid import UUID

from pydantic import BaseModel

from passerelle.daemon.driver import DeviceChange, DeviceInfo, DriverEvent, DriverItem, RequestHandler
from passerelle.daemon.event_ids import stable_event_id

SCHEMA = "passerelle.synthetic/1"
FAMILY_NAME = "synthetic"
SAVE_EVERY = 100  # acknowledged events between progress saves


class SyntheticData(BaseModel):
    seq: int
    filler: str = ""


def event_id_for(station: str, device_id: str, seq: int) -> UUID:
    return stable_event_id(station, FAMILY_NAME, device_id, str(seq))


class SyntheticDriver:
    def __init__(
        self,
        device_id: str,
        *,
        station: str,
        rate: float,
        count: int | None,
        payload_bytes: int,
        progress_file: Path | None,
    ) -> None:
        self.device = DeviceInfo(id=device_id, family=FAMILY_NAME, driver="synthetic", model="test pattern")
        self.station = station
        self.rate = rate
        self.count = count
        self.filler = "x" * payload_bytes
        self.progress_file = progress_file
        self._acked = 0
        self._pending: set[asyncio.Future[None]] = set()

    @property
    def name(self) -> str:
        return f"synthetic/{self.device.id}"

    async def start(self) -> None:
        self._acked = self._load_progress()

    async def stop(self) -> None:
        if self._pending:
            await asyncio.wait(self._pending, timeout=5)
        self._save_progress()

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}

    def _load_progress(self) -> int:
        if self.progress_file is None:
            return 0
        with contextlib.suppress(FileNotFoundError, ValueError):
            return int(self.progress_file.read_text().strip() or 0)
        return 0

    def _save_progress(self) -> None:
        if self.progress_file is None:
            return
        tmp = self.progress_file.with_suffix(".tmp")
        tmp.write_text(str(self._acked))
        tmp.replace(self.progress_file)

    def _on_ack(self, seq: int, future: asyncio.Future[None]) -> None:
        self._pending.discard(future)
        if future.cancelled() or future.exception() is not None:
            return
        # Progress = every event below it is committed; acks arrive in order for one driver.
        self._acked = max(self._acked, seq + 1)
        if self._acked % SAVE_EVERY == 0:
            self._save_progress()

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        seq = self._acked
        interval = 1.0 / self.rate if self.rate > 0 else 0.0
        next_at = time.monotonic()
        loop = asyncio.get_running_loop()
        while self.count is None or seq < self.count:
            if interval:
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            ack: asyncio.Future[None] | None = None
            event_id: UUID | None = None  # the core's UUIDv7
            if self.progress_file is not None:  # acknowledgements and stable ids only matter for resuming
                ack = loop.create_future()
                ack.add_done_callback(functools.partial(self._on_ack, seq))
                self._pending.add(ack)
                event_id = event_id_for(self.station, self.device.id, seq)
            yield DriverEvent(
                device=self.device,
                schema=SCHEMA,
                data=SyntheticData(seq=seq, filler=self.filler),
                event_id=event_id,
                ack=ack,
            )
            seq += 1
        if self._pending:
            await asyncio.wait(self._pending)
        self._save_progress()
        await asyncio.Event().wait()  # finished: stay up (ending would make the supervisor restart us)
