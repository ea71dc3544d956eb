"""Core benchmarks: the durable pipeline against a raw aiomqtt baseline, same broker, same process.

    .venv/bin/python -m bench.core_pipeline [--events 20000] [--quick]

Prints ratios (Passerelle / raw) so that results compare across machines. Targets (issue 2):
throughput >= 1.0x, latency p99 <= 2x, 100k backlog drain >= 0.9x with RSS growth <= 20 MB,
idle CPU <= 0.5 %, RSS <= 80 MB, time to READY <= 1.5 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.testing.support import DaemonProcess, base_config, inprocess_daemon

INFLIGHT = 100


def web_on() -> dict[str, Any]:
    """The browser endpoint and its journal as a fresh install has them (tests turn them off)."""
    return {"enabled": True, "port": free_port()}


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def payload_like_ours(seq: int) -> bytes:
    return json.dumps(
        {"schema": "passerelle.synthetic/1", "event_id": f"{seq:032x}", "data": {"seq": seq}}
    ).encode()


async def raw_throughput(broker: PrivateBroker, n: int) -> float:
    # Same protocol as the daemon's default (MQTT 5): the comparison is about the pipeline, not paho.
    async with aiomqtt.Client(
        broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5, max_inflight_messages=INFLIGHT
    ) as client:
        client.pending_calls_threshold = INFLIGHT + 10
        slots = asyncio.Semaphore(INFLIGHT)

        async def one(seq: int) -> None:
            try:
                await client.publish("raw/bench", payload_like_ours(seq), qos=1)
            finally:
                slots.release()

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for seq in range(n):
                await slots.acquire()
                group.create_task(one(seq))
        return n / (time.perf_counter() - started)


async def raw_latency(broker: PrivateBroker, n: int, rate: float) -> list[float]:
    samples = []
    async with aiomqtt.Client(broker.host, broker.port, protocol=aiomqtt.ProtocolVersion.V5) as client:
        for seq in range(n):
            started = time.perf_counter()
            await client.publish("raw/latency", payload_like_ours(seq), qos=1)
            samples.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, 1 / rate - samples[-1]))
    return samples


def config_for(broker: PrivateBroker, state: Path, **synthetic: Any) -> dict[str, Any]:
    return base_config(
        broker.port,
        state,
        # The reconnection delay as the tests have it: the backlog drain is timed from the broker's
        # return, and the default (up to 30 s) would time the backoff, not the drain.
        mqtt={
            "host": broker.host,
            "port": broker.port,
            "max_inflight": INFLIGHT,
            "reconnect_min_seconds": 0.1,
            "reconnect_max_seconds": 1.0,
        },
        logging={"level": "WARNING", "format": "json"},
        synthetic={"devices": [{"id": "bench", "resume": False, **synthetic}]},
        web=web_on(),
    )


async def passerelle_throughput(broker: PrivateBroker, n: int, workdir: Path) -> float:
    """From the first event's hand-over by the driver to the last PUBACK (like the raw loop, it
    includes filling the pipeline; the daemon's start-up is not counted)."""
    config = config_for(broker, workdir, rate=0, count=n)
    async with inprocess_daemon(config) as daemon:
        stats = daemon.publisher.stats
        first_handover: list[float] = []
        done = asyncio.Event()
        last_ack = 0.0

        # Connected after the daemon's own listeners: their per-event work is part of the measure.
        def on_published(row: Any, seconds: float) -> None:
            nonlocal last_ack
            if not first_handover:
                first_handover.append(row.created_at)  # wall clock, when the driver handed it over
            if stats.published_total >= n:
                last_ack = time.time()
                done.set()

        stats.published.connect(on_published)
        await done.wait()
        return n / (last_ack - first_handover[0])


async def passerelle_latency(broker: PrivateBroker, n: int, rate: float, workdir: Path) -> list[float]:
    """Driver hand-over (the event's creation) to PUBACK, per event."""
    config = config_for(broker, workdir / "latency", rate=rate, count=n)
    samples: list[float] = []
    async with inprocess_daemon(config) as daemon:
        stats = daemon.publisher.stats

        def on_published(row: Any, seconds: float) -> None:
            samples.append(time.time() - row.created_at)  # created_at: when the driver handed it over

        stats.published.connect(on_published)
        while stats.published_total < n:
            await asyncio.sleep(0.05)
    return samples


async def backlog_drain(broker: PrivateBroker, n: int, workdir: Path) -> tuple[float, float]:
    """Fill the outbox with the broker down, then time the drain once it is back; RSS growth in MB."""
    port = broker.port
    broker.stop()
    config = config_for(broker, workdir / "backlog", rate=0, count=n)
    async with inprocess_daemon(config) as daemon:
        while daemon.outbox.count < n:
            await asyncio.sleep(0.05)
        before = rss_mb()
        broker.port = port
        broker.start()
        started = time.perf_counter()
        while daemon.publisher.stats.published_total < n:
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        return n / elapsed, rss_mb() - before


async def idle(broker: PrivateBroker, workdir: Path, seconds: float) -> tuple[float, float, float]:
    """A real daemon process with every family enabled and idle: CPU %, RSS MB, time to READY."""
    config = base_config(
        broker.port, workdir / "idle-state", logging={"level": "WARNING", "format": "json"}, web=web_on()
    )
    for family in ("scanner", "card", "cpap"):
        config.pop(family, None)  # defaults: every family as it starts on a fresh install
    daemon = DaemonProcess(config, workdir / "idle")
    daemon.start()
    ready = await daemon.wait_ready()
    assert daemon.process is not None
    await asyncio.sleep(2.0)  # let start-up settle
    pid = daemon.process.pid

    def cpu_ticks() -> int:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    ticks0, t0 = cpu_ticks(), time.monotonic()
    await asyncio.sleep(seconds)
    ticks1, t1 = cpu_ticks(), time.monotonic()
    rss = (
        int(
            next(
                line
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if line.startswith("VmRSS")
            ).split()[1]
        )
        / 1024
    )
    await daemon.stop()
    hz = resource.getpagesize() and 100  # USER_HZ is 100 on Linux
    return (ticks1 - ticks0) / hz / (t1 - t0) * 100, rss, ready


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="passerelle-bench-"))
    with PrivateBroker() as broker:
        n = args.events
        # Alternate the two a few times and compare medians: one pair of runs on a shared machine can
        # be off by 10 % either way.
        raws, ours = [], []
        for round_ in range(1 if args.quick else 3):
            raws.append(await raw_throughput(broker, n))
            ours.append(await passerelle_throughput(broker, n, workdir / f"round-{round_}"))
        raw_tput, our_tput = statistics.median(raws), statistics.median(ours)
        print(
            f"throughput   raw aiomqtt {raw_tput:8.0f} msg/s | passerelle {our_tput:8.0f} ev/s | ratio {our_tput / raw_tput:.2f}x (target >= 1.0)"
            f"  [medians of {len(raws)}: raw {', '.join(f'{r:.0f}' for r in raws)}; passerelle {', '.join(f'{o:.0f}' for o in ours)}]"
        )

        lat_n = 300 if args.quick else 1000
        raw_lat = await raw_latency(broker, lat_n, 50)
        our_lat = await passerelle_latency(broker, lat_n, 50, workdir)
        for name, p in (("p50", 50), ("p99", 99)):
            r, o = percentile(raw_lat, p) * 1000, percentile(our_lat, p) * 1000
            print(
                f"latency {name}  raw {r:6.2f} ms | passerelle {o:6.2f} ms | ratio {o / r:.2f}x"
                + (" (target <= 2.0)" if p == 99 else "")
            )

        backlog = 20_000 if args.quick else 100_000
        drain_tput, growth = await backlog_drain(broker, backlog, workdir)
        print(
            f"backlog      {backlog} events drained at {drain_tput:8.0f} ev/s | ratio to raw {drain_tput / raw_tput:.2f}x (target >= 0.9) | RSS growth {growth:.1f} MB (target <= 20)"
        )

        cpu, rss, ready = await idle(broker, workdir, 10 if args.quick else 60)
        print(
            f"idle         CPU {cpu:.2f} % (target <= 0.5) | RSS {rss:.1f} MB (target <= 80) | READY after {ready:.2f} s (target <= 1.5)"
        )
    print(
        f"(one run; {sys.platform}, python {sys.version.split()[0]}; reproduce: python -m bench.core_pipeline)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="smaller runs (CI smoke)")
    asyncio.run(main(parser.parse_args()))
