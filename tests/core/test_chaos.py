"""Nothing is lost: 20,000 events while the broker restarts 3 times and the daemon is SIGKILLed twice.

A subscriber with a persistent session must end with every event id. Duplicates are allowed (delivery
is at least once) and are counted and reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.drivers.synthetic.driver import event_id_for
from passerelle.testing.support import DaemonProcess, base_config

TOTAL = 20_000
RATE = 2_500.0  # events/s: the whole run lasts long enough for every fault to land mid-stream


class PersistentSubscriber:
    """mosquitto_sub with a persistent session (-c): an independent client that reconnects by itself
    and writes each message out before the next, so nothing it acknowledged can be missed here."""

    def __init__(self, broker: PrivateBroker) -> None:
        self.broker = broker
        self.received: dict[str, int] = {}
        self.messages = 0

    async def run(self) -> None:
        process = await asyncio.create_subprocess_exec(
            "mosquitto_sub", "-h", self.broker.host, "-p", str(self.broker.port),
            "-i", "chaos-subscriber", "-c", "-q", "1", "-t", "passerelle/test/synthetic",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert process.stdout is not None
        try:
            async for line in process.stdout:
                event_id = json.loads(line)["event_id"]
                self.messages += 1
                self.received[event_id] = self.received.get(event_id, 0) + 1
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def wait_for_count(subscriber: PersistentSubscriber, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(subscriber.received) < count:
        if time.monotonic() > deadline:
            have = {e for e in subscriber.received}
            missing = [s for s in range(TOTAL) if str(event_id_for("test", "chaos", s)) not in have]
            raise AssertionError(f"stuck at {len(have)} of {count} events; first missing seqs {missing[:20]}")
        await asyncio.sleep(0.05)


async def test_every_event_survives_broker_restarts_and_daemon_kills(
    persistent_broker: PrivateBroker, tmp_path: Path
) -> None:
    broker = persistent_broker
    subscriber = PersistentSubscriber(broker)
    listening = asyncio.create_task(subscriber.run())
    await asyncio.sleep(0.3)  # the subscriber's session must exist before the first event
    config = base_config(
        broker.port,
        tmp_path / "state",
        synthetic={"devices": [{"id": "chaos", "rate": RATE, "count": TOTAL}]},
    )
    daemon = DaemonProcess(config, tmp_path / "daemon")
    daemon.start()
    await daemon.wait_ready()
    broker_restarts = daemon_kills = 0
    try:
        for step, threshold in enumerate((2_000, 5_000, 8_000, 11_000, 14_000)):
            await wait_for_count(subscriber, threshold, 30)
            if step % 2 == 0:
                broker.restart()
                broker_restarts += 1
            else:
                await daemon.kill()
                daemon_kills += 1
                daemon.start()
                await daemon.wait_ready()
        await wait_for_count(subscriber, TOTAL, 60)
    finally:
        with contextlib.suppress(AssertionError):
            await daemon.stop()
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)

    expected = {str(event_id_for("test", "chaos", seq)) for seq in range(TOTAL)}
    missing = expected - set(subscriber.received)
    duplicates = subscriber.messages - len(subscriber.received)
    print(
        f"\nchaos: {TOTAL} events, {broker_restarts} broker restarts, {daemon_kills} daemon SIGKILLs, "
        f"{subscriber.messages} messages received, {duplicates} duplicates, {len(missing)} missing"
    )
    assert broker_restarts >= 3
    assert daemon_kills >= 2
    assert not missing, f"{len(missing)} events lost"
    assert set(subscriber.received) <= expected
