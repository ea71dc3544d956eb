"""For the state-disk tests: a real small tmpfs as the state directory, and a device family whose events
the test hands over one by one (like a scanner's or a card reader's, each with an acknowledgement the
test can watch)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path

from prometheus_client import generate_latest
from pydantic import BaseModel

from passerelle.daemon.app import Daemon
from passerelle.daemon.driver import (
    DeviceChange,
    DeviceInfo,
    Driver,
    DriverContext,
    DriverEvent,
    DriverItem,
    RequestHandler,
)
from passerelle.daemon.family import EventDeclaration, Family, FamilyBase, FamilySection, load_families

SCHEMA = "test.desk/1"


@contextlib.contextmanager
def small_tmpfs(directory: Path, size: str = "2m") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``directory`` (tests run as root), unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(directory)], check=True)
    try:
        yield directory
    finally:
        if subprocess.run(["umount", str(directory)], check=False).returncode:
            subprocess.run(["umount", "-l", str(directory)], check=True)


def remount(directory: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(directory)], check=True)


class Ext4Image:
    def __init__(self, image: Path, directory: Path) -> None:
        self.image, self.directory = image, directory

    def mount(self) -> None:
        subprocess.run(
            ["mount", "-o", "loop,errors=remount-ro", str(self.image), str(self.directory)], check=True
        )

    def device(self) -> str:
        found = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE", str(self.directory)], check=True, capture_output=True, text=True
        )
        return Path(found.stdout.strip()).name

    def fail(self) -> None:
        """An ext4 error: with errors=remount-ro the kernel makes the file system read-only at once."""
        Path(f"/sys/fs/ext4/{self.device()}/trigger_fs_error").write_text("1")

    def repair(self) -> None:
        subprocess.run(["umount", str(self.directory)], check=True)
        subprocess.run(["e2fsck", "-fy", str(self.image)], check=False, capture_output=True)
        self.mount()


@contextlib.contextmanager
def ext4_image(image: Path, directory: Path, size_mb: int = 16) -> Iterator[Ext4Image]:
    """A real ext4 file system in a file, loop-mounted on ``directory``, unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    with image.open("wb") as fh:
        fh.truncate(size_mb << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    mounted = Ext4Image(image, directory)
    mounted.mount()
    try:
        yield mounted
    finally:
        if subprocess.run(["umount", str(directory)], check=False).returncode:
            subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path, leave: int) -> Path:
    """A filler file taking all the free space but ``leave`` bytes."""
    stat = os.statvfs(directory)
    filler = directory / "filler"
    with filler.open("wb") as fh:
        fh.write(bytes(max(0, stat.f_bavail * stat.f_frsize - leave)))
    return filler


class Visit(BaseModel):
    n: int
    note: str


class DeskDriver:
    def __init__(self) -> None:
        self.device = DeviceInfo(id="desk-1", family="desk", driver="queue")
        self.queue: asyncio.Queue[DriverEvent] = asyncio.Queue()

    @property
    def name(self) -> str:
        return "desk/desk-1"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def hand_over(self, n: int, note_bytes: int = 1000) -> asyncio.Future[None]:
        """Queue event ``n``; the returned acknowledgement completes once the core stored it."""
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        data = Visit(n=n, note="x" * note_bytes)
        self.queue.put_nowait(DriverEvent(device=self.device, schema=SCHEMA, data=data, ack=ack))
        return ack

    async def events(self) -> AsyncIterator[DriverItem]:
        yield DeviceChange(self.device)
        while True:
            yield await self.queue.get()

    def devices(self) -> Sequence[DeviceInfo]:
        return [self.device]

    def request_handlers(self) -> Mapping[str, RequestHandler]:
        return {}


class DeskFamily(FamilyBase):
    name = "desk"
    section_model = FamilySection
    events = (EventDeclaration(SCHEMA, Visit, "visit", "a test visit"),)

    def __init__(self) -> None:
        self.driver = DeskDriver()

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        return [self.driver]


def with_desk() -> tuple[dict[str, Family], DeskDriver]:
    families, _ = load_families()
    desk = DeskFamily()
    families["desk"] = desk
    return families, desk.driver


def metric(daemon: Daemon, name: str) -> float:
    """One sample, as Prometheus would scrape it from the daemon's registry."""
    for line in generate_latest(daemon.metrics.registry).decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} not exposed")


class LowestPending:
    """Samples the outbox's pending count every few milliseconds: it must never go below zero."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.lowest = daemon.outbox.count
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            self.lowest = min(
                self.lowest,
                self.daemon.outbox.count,
                int(metric(self.daemon, "passerelle_outbox_pending_events")),
            )
            await asyncio.sleep(0.005)

    async def stop(self) -> int:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        return self.lowest
