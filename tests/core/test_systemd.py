"""systemd integration: the notify protocol on a real datagram socket, signals, and the unit's hardening."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from passerelle.daemon.broker import PrivateBroker
from passerelle.daemon.sdnotify import Notifier
from passerelle.testing.support import DaemonProcess, NotifySocket, base_config, collect
from tests.core.hostile_requests import send_request

ROOT = Path(__file__).resolve().parents[2]


def test_notifier_speaks_to_abstract_and_path_sockets(tmp_path: Path) -> None:
    listener = NotifySocket(tmp_path / "notify.sock")
    notifier = Notifier(str(listener.path))
    assert notifier.ready("2 drivers")
    assert notifier.watchdog()
    assert listener.poll() == [{"READY": "1", "STATUS": "2 drivers"}, {"WATCHDOG": "1"}]

    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"passerelle-test-{tmp_path.name}"
    abstract.bind("\0" + name)
    try:
        assert Notifier("@" + name).stopping()
        assert abstract.recv(1024) == b"STOPPING=1\nSTATUS=stopping"
    finally:
        abstract.close()


def test_notifier_drops_instead_of_blocking_when_nobody_reads(tmp_path: Path) -> None:
    """A datagram socket queues only net.unix.max_dgram_qlen unread messages; then a send must fail
    at once (and count), not wait for a reader that may never come."""
    listener = NotifySocket(tmp_path / "notify.sock")  # bound, never read
    notifier = Notifier(str(listener.path))
    results: list[bool] = []
    sender = threading.Thread(target=lambda: results.extend(notifier.watchdog() for _ in range(200)))
    try:
        sender.start()
        sender.join(5)
        assert not sender.is_alive(), "sd_notify blocked on a socket nobody reads"
        assert results.count(False) == notifier.dropped > 0
        assert results[0] and results.count(True) < 200
    finally:
        listener.close()  # also wakes a sender stuck in a blocking send
        sender.join(5)


async def test_daemon_runs_on_when_the_notify_socket_is_not_read(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    """A watchdog ping every 10 ms fills an unread notify socket within 0.1 s: events keep flowing."""
    config = base_config(broker.port, tmp_path / "state", synthetic={"devices": [{"id": "beat", "rate": 50}]})
    daemon = DaemonProcess(config, tmp_path, env={"WATCHDOG_USEC": "20000"})
    async with collect(broker.host, broker.port, "passerelle/test/synthetic") as seen:
        daemon.start()
        await daemon.wait_ready()  # the last read of the notify socket
        unread_since = time.monotonic()
        await seen.wait_for(
            lambda m: sum(1 for e in m if e.received_at > unread_since + 2.0) >= 25,
            10,
            "events flowing 2 s after the notify socket was last read",
        )
    async with collect(broker.host, broker.port, "passerelle/test/bridge/response/health") as answers:
        assert await send_request(broker.host, broker.port, "health", b"{}")
        await answers.wait_for(lambda m: bool(m), 10, "health")
    assert answers.messages[0].json()["data"]["sd_notify_dropped"] > 0  # the drops show
    assert await daemon.stop() == 0


def test_notifier_is_silent_outside_systemd() -> None:
    notifier = Notifier("")
    assert not notifier.enabled
    assert not notifier.ready("x")


async def test_ready_status_watchdog_and_graceful_sigterm(broker: PrivateBroker, tmp_path: Path) -> None:
    config = base_config(broker.port, tmp_path / "state", synthetic={"devices": [{"id": "beat", "rate": 20}]})
    daemon = DaemonProcess(config, tmp_path, env={"WATCHDOG_USEC": "200000"})
    daemon.start()
    ready_after = await daemon.wait_ready()
    assert daemon.notify is not None
    await asyncio.sleep(1.0)  # five watchdog periods
    messages = daemon.notify.poll()
    pings = sum(1 for m in messages if m.get("WATCHDOG") == "1")
    assert pings >= 5, messages
    statuses = [m["STATUS"] for m in messages if "STATUS" in m]
    assert any(
        re.search(r"drivers 1/1 running; broker connected; outbox \d+ pending", s) for s in statuses
    ), statuses
    assert await daemon.stop() == 0
    print(f"\ntime to READY: {ready_after:.2f} s")


async def test_sigint_also_stops_gracefully(broker: PrivateBroker, tmp_path: Path) -> None:
    import signal

    daemon = DaemonProcess(base_config(broker.port, tmp_path / "state"), tmp_path)
    daemon.start()
    await daemon.wait_ready()
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGINT)
    assert await daemon.wait_exit() == 0


def test_unit_hardening_exposure_is_at_most_2_5() -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is required (apt-get install systemd)"
    result = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(ROOT / "systemd" / "passerelle.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for passerelle\.service: ([0-9.]+)", result.stdout)
    assert match, result.stdout[-2000:] + result.stderr
    assert float(match.group(1)) <= 2.5


def test_unit_keeps_what_a_device_daemon_needs() -> None:
    unit = (ROOT / "systemd" / "passerelle.service").read_text()
    assert "Type=notify" in unit
    assert "RestartPreventExitStatus=78" in unit
    assert "PrivateDevices=yes" not in unit
    assert "PrivateNetwork=yes" not in unit
    assert "SupplementaryGroups=passerelle-scanner" in unit
    assert "input" not in re.findall(r"^SupplementaryGroups=(.*)$", unit, re.M)[0].split()
    sysusers = (ROOT / "systemd" / "sysusers.d" / "passerelle.conf").read_text()
    assert re.search(r"^u passerelle ", sysusers, re.M)
