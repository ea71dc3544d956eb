"""Fleet bench: N real station daemons (synthetic family) on a broker engine, a billing consumer group,
and on NATS one cluster node killed and restarted mid-run.

    .venv/bin/python -m bench.fleet --engine nats --stations 20 --rate 20 --seconds 30 --kill-at 10
    .venv/bin/python -m bench.fleet --engine mosquitto --stations 20 --rate 20 --seconds 30

Prints aggregate events/s, station → consumer p50/p99, the failover time, duplicates, missing events,
event-id uniqueness and the cost of one station (CPU share of a core and RSS, measured on the daemon
processes). Targets (issue 13): 0 missing, failover <= 5 s, ids unique.

Failover time: for each station, the longest silence between two consecutive events first received by
the consumer group (arrival times, one clock) among those that end after the kill, i.e. from the last
event before the outage to the first one after it; the figure is the worst station's. Every station
counts, not only those connected to the killed node: when that node led the MQTT gateway's
``$MQTT_msgs`` stream, no node acknowledges a QoS 1 publish until a new leader is elected.

Stations are spread over the cluster's nodes; each lists every node in ``mqtt.servers``, its own first.
``--kill`` chooses the node: the leader of ``$MQTT_msgs`` (the worst case, default), the node leading the
fewest of the gateway's raft groups, or n1. The output names what the killed node led.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from math import inf
from pathlib import Path
from typing import Any

from bench.fleet_consumers import JetStreamSite, Ledger, mosquitto_group, nats_group
from passerelle.daemon.broker import PrivateBroker
from passerelle.testing.engines import NatsCluster
from passerelle.testing.support import DaemonProcess, base_config

CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


GATEWAY_GROUPS = ("meta", "$MQTT_msgs", "$MQTT_rmsgs", "$MQTT_sess")  # what a station's session needs


@dataclass
class Kill:
    """The node killed mid-run, when, and which raft groups it led then."""

    at: float  # monotonic
    unix: float
    node: str
    index: int
    led: list[str]
    leaders_before: dict[str, str]


@dataclass
class Cluster:
    """Where the stations connect (MQTT) and the consumer group reads, whatever the engine."""

    mqtt_ports: list[int]
    nats: NatsCluster | None = None
    mosquitto: PrivateBroker | None = None


def process_cpu_seconds(pid: int) -> float:
    with contextlib.suppress(OSError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return 0.0


def process_rss_mb(pid: int) -> float:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def station_accounts(daemon: DaemonProcess, received: int) -> tuple[int, int, int]:
    """(produced, still stored, lost) for a stopped station: what its driver committed (its progress
    file), what its outbox kept (its stop line), and the rest, which the consumer should have."""
    progress = daemon.workdir / "state" / "synthetic-counter.progress"
    produced = int(progress.read_text() or 0) if progress.exists() else 0
    stored = [int(n) for n in re.findall(r"stopped; (\d+) events remain", daemon.log())]
    remaining = stored[-1] if stored else 0
    return produced, remaining, max(0, produced - remaining - received)


def milliseconds(latencies: list[float]) -> list[float] | None:
    """[p50, p99] in milliseconds."""
    if not latencies:
        return None
    return [round(percentile(latencies, 50) * 1000, 1), round(percentile(latencies, 99) * 1000, 1)]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


@contextlib.contextmanager
def workdir_for(keep: Path | None) -> Iterator[Path]:
    """``--keep DIR``: the stations' and nodes' logs stay there (a fresh directory); else a temporary one."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="passerelle-fleet-") as tmp:
            yield Path(tmp)
        return
    keep.mkdir(parents=True, exist_ok=False)
    yield keep


@contextlib.asynccontextmanager
async def engine(name: str, workdir: Path, nats_mqtt: str = "") -> AsyncIterator[Cluster]:
    if name in ("nats", "nats-standalone"):
        standalone = name == "nats-standalone"
        with NatsCluster(workdir / "nats", mqtt_options=nats_mqtt, standalone=standalone) as nats_cluster:
            yield Cluster([n.mqtt_port for n in nats_cluster.nodes], nats=nats_cluster)
    else:
        with PrivateBroker() as broker:  # its own temporary directory
            yield Cluster([broker.port], mosquitto=broker)


def station_config(cluster: Cluster, index: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    own = index % len(cluster.mqtt_ports)
    mqtt: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": cluster.mqtt_ports[own],
        # NATS 2.9's MQTT gateway speaks 3.1.1 only; Mosquitto takes the daemon's default, MQTT 5.
        "protocol": "3.1.1" if cluster.nats else "5",
        "reconnect_min_seconds": 0.2,
        "reconnect_max_seconds": 2.0,
    }
    ports = cluster.mqtt_ports[own:] + cluster.mqtt_ports[:own]  # every node, its own first
    mqtt["servers"] = [f"127.0.0.1:{port}" for port in ports]
    device = {"id": "counter", "rate": args.rate, "count": int(args.rate * args.seconds), "resume": True}
    config = base_config(
        mqtt["port"], workdir / "state", station=f"station-{index:03d}", synthetic={"devices": [device]}
    )
    config["mqtt"] = mqtt
    config["logging"] = {"level": args.log_level, "format": "json"}  # the stop line tells what stays stored
    return config


async def start_stations(cluster: Cluster, args: argparse.Namespace, workdir: Path) -> list[DaemonProcess]:
    stations = []
    for index in range(args.stations):
        station_dir = workdir / f"station-{index:03d}"
        daemon = DaemonProcess(station_config(cluster, index, args, station_dir), station_dir)
        daemon.start()
        stations.append(daemon)
    for daemon in stations:
        await daemon.wait_ready(timeout=120)
    return stations


async def stop_stations(stations: list[DaemonProcess]) -> list[str]:
    """SIGTERM each; a station that does not exit in time is killed and named, with its last log."""
    stuck = []
    for daemon in stations:
        try:
            await daemon.stop(timeout=30)
        except AssertionError:
            stuck.append(daemon.workdir.name)
            if daemon.process is not None:  # faulthandler (PYTHONFAULTHANDLER) prints every thread's stack
                daemon.process.send_signal(signal.SIGABRT)
                await asyncio.sleep(3)
            print(
                f"{daemon.workdir.name} did not stop on SIGTERM; log tail:\n{daemon.log()[-6000:]}",
                file=sys.stderr,
            )
            await daemon.kill()
    return stuck


def jetstream_sites(nats_cluster: NatsCluster) -> list[JetStreamSite]:
    urls = [f"nats://127.0.0.1:{node.client_port}" for node in nats_cluster.nodes]
    if nats_cluster.standalone:
        return [
            JetStreamSite([url], node.mqtt_port) for url, node in zip(urls, nats_cluster.nodes, strict=True)
        ]
    return [JetStreamSite(urls, nats_cluster.nodes[0].mqtt_port)]


def node_to_kill(cluster: NatsCluster, leaders: dict[str, str], choice: str) -> int:
    names = [node.name for node in cluster.nodes]
    if choice == "msgs-leader" and leaders.get("$MQTT_msgs") in names:
        return names.index(leaders["$MQTT_msgs"])
    if choice == "least-leader":
        led = [sum(leaders.get(group) == name for group in GATEWAY_GROUPS) for name in names]
        return led.index(min(led))
    return 0


async def kill_and_restart(cluster: Cluster, args: argparse.Namespace) -> Kill | None:
    """Kill a node at ``--kill-at`` seconds, restart it ``--down`` seconds later."""
    if cluster.nats is None or args.kill_at is None:
        return None
    await asyncio.sleep(args.kill_at)
    leaders = await asyncio.to_thread(cluster.nats.leaders)
    index = node_to_kill(cluster.nats, leaders, args.kill)
    name = cluster.nats.nodes[index].name
    killed_at, killed_unix = time.monotonic(), time.time()
    cluster.nats.kill_node(index)
    await asyncio.sleep(args.down)
    cluster.nats.start_node(index)
    return Kill(
        killed_at, killed_unix, name, index, [g for g in GATEWAY_GROUPS if leaders.get(g) == name], leaders
    )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    ledger = Ledger()
    expected_per_station = int(args.rate * args.seconds)
    with workdir_for(args.keep) as workdir:
        async with engine(args.engine, workdir, args.nats_mqtt) as cluster:
            group = (
                nats_group(
                    jetstream_sites(cluster.nats), "127.0.0.1", ledger, 1 if cluster.nats.standalone else 2
                )
                if cluster.nats
                else mosquitto_group("127.0.0.1", cluster.mqtt_ports[0], ledger, 2)
            )
            async with group:
                started = time.monotonic()
                stations = await start_stations(cluster, args, workdir)
                ready_seconds = time.monotonic() - started
                cpu_before = {d: process_cpu_seconds(d.process.pid) for d in stations if d.process}
                window_start = time.monotonic()
                killer = asyncio.create_task(kill_and_restart(cluster, args))
                deadline = window_start + args.seconds + args.drain
                total = expected_per_station * args.stations
                while ledger.received() < total and time.monotonic() < deadline:
                    await asyncio.sleep(0.2)
                window = time.monotonic() - window_start
                kill = await killer
                leaders_after = await asyncio.to_thread(cluster.nats.leaders) if cluster.nats else {}
                elections = (
                    cluster.nats.elections_since(kill.unix, kill.node) if cluster.nats and kill else {}
                )
                cpu = [process_cpu_seconds(d.process.pid) - cpu_before[d] for d in stations if d.process]
                rss = [process_rss_mb(d.process.pid) for d in stations if d.process]
                stuck = await stop_stations(stations)
                accounts = [station_accounts(d, len(ledger.seqs.get(d.workdir.name, ()))) for d in stations]
    per_station_expected = set(range(expected_per_station))
    missing = sum(
        len(per_station_expected - ledger.seqs.get(f"station-{i:03d}", set())) for i in range(args.stations)
    )
    pairs = sum(len(s) for s in ledger.seqs.values())
    killed_at = kill.at if kill else None
    names = [f"station-{i:03d}" for i in range(args.stations)]
    on_killed = [names[i] for i in range(kill.index, args.stations, len(cluster.mqtt_ports))] if kill else []
    failover = max((ledger.largest_gap(s, kill.at) for s in names), default=None) if kill else None
    failover_own = max((ledger.largest_gap(s, kill.at) for s in on_killed), default=None) if kill else None
    # Where each station's longest silence lies, in seconds from the kill (to read its log by).
    gaps = {s: ledger.largest_gap_span(s, kill.at) for s in names} if kill else {}
    worst = sorted(gaps, key=lambda s: gaps[s][0] - gaps[s][1])[:5]
    span = (ledger.last_at - ledger.first_at) if ledger.first_at else float("nan")
    return {
        "engine": args.engine,
        "stations": args.stations,
        "rate_per_station": args.rate,
        "expected": expected_per_station * args.stations,
        "received_unique": ledger.unique,
        "deliveries": ledger.deliveries,
        "duplicates": ledger.duplicates,
        "missing": missing,
        "produced": sum(a[0] for a in accounts),
        "still_stored_in_station_outboxes": sum(a[1] for a in accounts),
        "lost": sum(a[2] for a in accounts),
        "ids_unique_across_stations": ledger.unique == pairs,
        "events_per_second": round(ledger.unique / span, 1) if span == span and span > 0 else None,
        # All events, and those delivered once every station was up (start-up competes for the CPU)
        # and, on NATS, before the kill (the outage's own delays are the failover figure).
        "latency_ms_p50_p99": milliseconds(ledger.latencies_between(0)),
        "steady_latency_ms_p50_p99": milliseconds(ledger.latencies_between(window_start, killed_at or inf)),
        "failover_seconds": round(failover, 2) if failover is not None else None,
        "failover_seconds_stations_of_killed_node": round(failover_own, 2)
        if failover_own is not None
        else None,
        "failover_gaps_from_kill_worst": {
            s: [round(gaps[s][0] - kill.at, 2), round(gaps[s][1] - kill.at, 2)] for s in worst if kill
        },
        "killed_node": kill.node if kill else None,
        "killed_node_led": kill.led if kill else None,
        "leaders_before_kill": kill.leaders_before if kill else None,
        "leaders_at_end": leaders_after,
        # When each group the gateway needs had a new leader, in seconds after the kill (surviving nodes'
        # logs; a group whose leader survived has none).
        "elections_after_kill_seconds": {
            group: round(seconds, 2)
            for group, seconds in sorted(elections.items())
            if group in GATEWAY_GROUPS or group.endswith("> billing")
        },
        "nats_mqtt_options": args.nats_mqtt if cluster.nats else None,
        "killed_at_unix": round(kill.unix, 3) if kill else None,
        "node_down_seconds": args.down if kill else None,
        "stations_on_killed_node": len(on_killed),
        "per_worker": dict(ledger.by_worker),
        "station_cpu_percent_of_core_mean": round(100 * statistics.mean(cpu) / window, 2) if cpu else None,
        "station_rss_mb_mean": round(statistics.mean(rss), 1) if rss else None,
        "stations_ready_seconds": round(ready_seconds, 1),
        "stations_not_stopping_on_sigterm": stuck,
        "window_seconds": round(window, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--engine",
        choices=["nats", "nats-standalone", "mosquitto"],
        default="nats",
        help="nats-standalone: three nodes sharing nothing (each its own JetStream, replicas 1)",
    )
    parser.add_argument("--stations", type=int, default=20)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second per station")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long each station produces")
    parser.add_argument("--kill-at", type=float, default=None, help="NATS: kill a node after this many s")
    parser.add_argument("--down", type=float, default=3.0, help="NATS: seconds before that node restarts")
    parser.add_argument(
        "--kill",
        choices=["msgs-leader", "least-leader", "n1"],
        default="msgs-leader",
        help="NATS: which node (the leader of $MQTT_msgs: the worst case)",
    )
    parser.add_argument(
        "--nats-mqtt", default="", help="NATS: more settings for mqtt { }, e.g. 'consumer_replicas: 1'"
    )
    parser.add_argument("--drain", type=float, default=60.0, help="extra seconds allowed to receive all")
    parser.add_argument(
        "--keep", type=Path, default=None, help="a new directory where the stations' and nodes' logs stay"
    )
    parser.add_argument(
        "--log-level", default="INFO", help="the stations' (DEBUG: every MQTT packet, with --keep to read)"
    )
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    ok = result["missing"] == 0 and result["ids_unique_across_stations"]
    if result["failover_seconds"] is not None:
        ok = ok and result["failover_seconds"] <= 5.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
