"""Card insertion latency: from the emulator's TCP connect to vpcd (the card going in) to the
"inserted" event committed in the daemon's outbox, over N insertions alternating between the two
slots; reported next to pcscd's own polling period, measured in the same run from the emulator's
view (the interval between pcscd's presence polls of an inserted card).

    .venv/bin/python -m bench.card_latency [--insertions 200]

Real pieces: a private pcscd with vpcd, the card driver, the in-process daemon and a private
Mosquitto. The card driver is wrapped only to attach the ``ack`` future the core completes after the
outbox commit.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from bench.wrapping import DelegatingDriver, DelegatingFamily
from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.driver import Driver, DriverEvent, DriverItem
from passerelle.daemon.family import load_families
from passerelle.drivers.card.events import CardEvent
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import make_card
from passerelle.simulators.card.vpcd_link import GET_ATR, InsertedCard
from passerelle.testing.support import base_config, inprocess_daemon, wait_until

KINDS = ("vitale2", "cps3", "vitale1", "cps4")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@dataclasses.dataclass
class TimedCard(InsertedCard):
    """Also notes when pcscd polls the card (vpcd asks for the ATR at each presence check)."""

    polls: list[float] = dataclasses.field(default_factory=list)

    def _handle(self, message: bytes) -> bytes | None:
        if message == bytes([GET_ATR]):
            self.polls.append(time.monotonic())
        return super()._handle(message)


class CommitTimes:
    def __init__(self) -> None:
        self.queues: dict[tuple[str, int], asyncio.Queue[float]] = {}

    def queue(self, kind: str, slot: int) -> asyncio.Queue[float]:
        return self.queues.setdefault((kind, slot), asyncio.Queue())


class AckingDriver(DelegatingDriver):
    """The real card driver, with an ack future on card events to time their commit."""

    def __init__(self, inner: Driver, times: CommitTimes) -> None:
        super().__init__(inner)
        self.times = times

    @staticmethod
    def _ack(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[float]) -> asyncio.Future[None]:
        ack: asyncio.Future[None] = loop.create_future()

        def committed(_: asyncio.Future[None]) -> None:
            queue.put_nowait(time.monotonic())

        ack.add_done_callback(committed)
        return ack

    async def events(self) -> AsyncIterator[DriverItem]:
        loop = asyncio.get_running_loop()
        async for item in self.inner.events():
            data = item.data if isinstance(item, DriverEvent) else None
            counted = ("inserted", "removed")
            if isinstance(data, CardEvent) and data.slot is not None and data.event in counted:
                assert isinstance(item, DriverEvent)
                item = dataclasses.replace(item, ack=self._ack(loop, self.times.queue(data.event, data.slot)))
            yield item


def poll_gaps(card: TimedCard) -> list[float]:
    # vpcd asks several times per presence check (a burst): the period is between bursts.
    return [b - a for a, b in zip(card.polls, card.polls[1:], strict=False) if b - a > 0.15]


async def measure_poll_period(port: int, times: CommitTimes, gaps: int = 10) -> list[float]:
    card = TimedCard(make_card("cps3"), port)
    await asyncio.to_thread(card.insert)
    await asyncio.wait_for(times.queue("inserted", 0).get(), 10)
    try:
        await wait_until(lambda: len(poll_gaps(card)) >= gaps, timeout=20, what="pcscd polls")
    finally:
        await asyncio.to_thread(card.remove)
    await asyncio.wait_for(times.queue("removed", 0).get(), 10)
    return poll_gaps(card)


async def lane(port: int, slot: int, count: int, times: CommitTimes, latencies: list[float]) -> None:
    jitter = random.Random(slot)
    for n in range(count):
        # A card arrives at any moment of pcscd's polling cycle, not right after the last poll.
        await asyncio.sleep(jitter.uniform(0, 0.5))
        card = InsertedCard(make_card(KINDS[n % len(KINDS)]), port + slot)
        await asyncio.to_thread(card.insert)
        committed = await asyncio.wait_for(times.queue("inserted", slot).get(), 10)
        latencies.append(committed - card.connected_at)
        await asyncio.to_thread(card.remove)
        await asyncio.wait_for(times.queue("removed", slot).get(), 10)


async def run(insertions: int) -> None:
    times = CommitTimes()
    with tempfile.TemporaryDirectory() as tmp, PrivateBroker() as broker:
        pcscd = IsolatedPcscd(Path(tmp) / "pcscd")
        pcscd.start()
        os.environ.update(pcscd.client_env)
        try:
            families, _ = load_families()
            wrapped = DelegatingFamily(families["card"], lambda d: AckingDriver(d, times))
            families = {**families, "card": wrapped}
            config = base_config(
                broker.port, Path(tmp) / "state", card={"devices": [{"pcsc_socket": str(pcscd.socket_path)}]}
            )
            async with inprocess_daemon(config, families):
                await wait_until(
                    lambda: any(d.devices() for d in wrapped.drivers), timeout=10, what="reader announced"
                )
                latencies: list[float] = []
                polls = await measure_poll_period(pcscd.port, times)
                started = time.monotonic()
                half = insertions // 2
                await asyncio.gather(
                    lane(pcscd.port, 0, half, times, latencies),
                    lane(pcscd.port, 1, insertions - half, times, latencies),
                )
                elapsed = time.monotonic() - started
        finally:
            pcscd.stop()
    poll = statistics.median(polls)
    ms = [x * 1000 for x in latencies]
    print(f"card insertions: {len(ms)} in {elapsed:.0f} s (two slots in parallel)")
    print(f"pcscd presence poll period (measured): median {poll * 1000:.0f} ms over {len(polls)} polls")
    print(
        f"connect -> committed: p50 {percentile(ms, 0.5):.0f} ms, p90 {percentile(ms, 0.9):.0f} ms, "
        f"p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"
    )
    print(
        f"ratios to the poll period: p50 {percentile(ms, 0.5) / (poll * 1000):.2f}, "
        f"p99 {percentile(ms, 0.99) / (poll * 1000):.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--insertions", type=int, default=200)
    asyncio.run(run(parser.parse_args().insertions))


if __name__ == "__main__":
    main()
