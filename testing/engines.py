"""Distributed MQTT engines started on loopback for the fleet tests and bench: a 3-node NATS cluster
(JetStream and its MQTT gateway) and a RabbitMQ node with its MQTT plugin.

Each engine gets free ports, its own data directory and (for RabbitMQ) its own node name and Erlang
cookie, so that the system's own brokers (NATS on 4222, RabbitMQ on 5672, Mosquitto on 1883) are never
touched. Starts and stops are bounded: an engine that does not come up raises ``EngineError`` with the
tail of its own log.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from passerelle.daemon.broker import PrivateBroker, free_port, port_open

RABBITMQ_SCRIPTS = Path("/usr/lib/rabbitmq/bin")  # the /usr/sbin wrappers switch to the system's user


class EngineError(RuntimeError):
    pass


def _log_tail(path: Path, chars: int = 3000) -> str:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return "(no log)"


def _stop_process(process: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


def _http_ok(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
        return bool(response.status == 200)
    return False


class Engine:
    """``with engine:`` starts it (stopping whatever part did start if that fails) and stops it."""

    def start(self, timeout: float = 60.0) -> float:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class NatsNode:
    name: str
    workdir: Path
    client_port: int = field(default_factory=free_port)
    route_port: int = field(default_factory=free_port)
    mqtt_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


# "[pid] 2026/11/30 06:37:21.251551 [INF] JetStream cluster new stream leader for '$G > $MQTT_msgs'"
_ELECTION = re.compile(
    r"\] (?P<time>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d+) \[INF\] JetStream cluster new "
    r"(?:(?P<meta>metadata) leader|(?:stream|consumer) leader for '[^>]+ > (?P<group>[^']+)')"
)


def leaders_in_report(report: dict[str, Any]) -> dict[str, str]:
    """``NatsCluster.leaders`` from a node's ``/jsz?accounts=true&streams=true&consumers=true``."""
    found = {"meta": str(report.get("meta_cluster", {}).get("leader", ""))}
    consumers_led: dict[str, int] = {}
    for account in report.get("account_details", []):
        for stream in account.get("stream_detail", []):
            found[stream["name"]] = str(stream.get("cluster", {}).get("leader", ""))
            for consumer in stream.get("consumer_detail", []):
                leader = str(consumer.get("cluster", {}).get("leader", ""))
                consumers_led[leader] = consumers_led.get(leader, 0) + 1
    found.update({f"consumers@{name}": str(count) for name, count in consumers_led.items()})
    return found


class NatsCluster(Engine):
    """``with NatsCluster(workdir) as cluster:`` … ``cluster.nodes[0].mqtt_port``.

    ``authorization`` is a NATS ``authorization { … }`` block (users and subject permissions) shared
    by every node; without it the MQTT gateway takes anonymous clients. ``mqtt_options`` are more
    settings of every node's ``mqtt { }`` block (e.g. ``consumer_replicas: 1``). ``standalone`` nodes
    share nothing (no route, each its own JetStream, replicas 1): a station lists them all as it would
    the nodes of a cluster, and a consumer reads each.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        workdir: Path,
        size: int = 3,
        authorization: str = "",
        mqtt_options: str = "",
        standalone: bool = False,
    ) -> None:
        self.workdir = workdir
        self.standalone = standalone
        self.authorization = authorization
        self.mqtt_options = mqtt_options
        self.nodes = [NatsNode(f"n{i + 1}", workdir) for i in range(size)]

    @staticmethod
    def binary() -> str:
        path = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(path).exists():
            raise EngineError("nats-server is not installed (apt-get install nats-server)")
        return path

    def config_path(self, node: NatsNode) -> Path:
        routes = ", ".join(f"nats://{self.host}:{n.route_port}" for n in self.nodes if n is not node)
        store = self.workdir / node.name / "jetstream"
        store.mkdir(parents=True, exist_ok=True)
        listen = f"{self.host}:{node.route_port}"
        cluster = f"cluster {{ name: passerelle-test, listen: {listen}, routes: [{routes}] }}"
        replicas = 1 if self.standalone else min(3, len(self.nodes))
        text = f"""
server_name: {node.name}
listen: {self.host}:{node.client_port}
http: {self.host}:{node.http_port}
jetstream {{ store_dir: "{store}" }}
{"" if self.standalone else cluster}
mqtt {{
  listen: {self.host}:{node.mqtt_port}, stream_replicas: {replicas}
  {self.mqtt_options}
}}
{self.authorization}
"""
        path = self.workdir / f"{node.name}.conf"
        path.write_text(text)
        return path

    def start_node(self, index: int) -> None:
        node = self.nodes[index]
        if node.running:
            return
        config = self.config_path(node)
        log = node.log_path.open("ab")
        node.process = subprocess.Popen(
            [self.binary(), "-c", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        log.close()

    def kill_node(self, index: int) -> None:
        """SIGKILL: a node lost, not a clean shutdown."""
        node = self.nodes[index]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(10)

    def wait_ready(self, timeout: float = 60.0, indexes: list[int] | None = None) -> float:
        """Until each node answers /healthz (JetStream meta leader known) and its MQTT port listens."""
        started = time.monotonic()
        deadline = started + timeout
        for node in (self.nodes[i] for i in (indexes or range(len(self.nodes)))):
            while not (
                _http_ok(f"http://{self.host}:{node.http_port}/healthz")
                and port_open(self.host, node.mqtt_port)
            ):
                if node.process is not None and node.process.poll() is not None:
                    raise EngineError(f"nats {node.name} exited: {_log_tail(node.log_path)}")
                if time.monotonic() > deadline:
                    raise EngineError(
                        f"nats {node.name} not ready in {timeout} s: {_log_tail(node.log_path)}"
                    )
                time.sleep(0.1)
        return time.monotonic() - started

    def start(self, timeout: float = 60.0) -> float:
        for index in range(len(self.nodes)):
            self.start_node(index)
        return self.wait_ready(timeout)

    def leaders(self) -> dict[str, str]:
        """Which node leads each JetStream raft group, as a running node sees it: ``meta`` (the cluster's
        metadata: consumer creation, stream placement), each stream by name (the MQTT gateway's
        ``$MQTT_msgs``, ``$MQTT_rmsgs``, ``$MQTT_sess``…) and ``consumers@<node>``: how many consumers
        that node leads. Losing a leader costs its group a raft election (4-9 s in nats-server 2.9-2.14,
        not configurable); losing a follower costs nothing. Empty when no node answers."""
        for node in (n for n in self.nodes if n.running):
            url = f"http://{self.host}:{node.http_port}/jsz?accounts=true&streams=true&consumers=true"
            with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=2) as answer:
                return leaders_in_report(json.load(answer))
        return {}

    def elections_since(self, since_unix: float, killed: str) -> dict[str, float]:
        """Seconds from ``since_unix`` (a node killed) to the first new leader of each raft group that
        the other nodes' logs report after it (``meta``, streams by name, consumers as ``<stream> >
        <consumer>``). The killed node's own log is left out: once restarted it reports every leader
        it learns as new."""
        first: dict[str, float] = {}
        for node in (n for n in self.nodes if n.name != killed):
            with contextlib.suppress(OSError):
                for line in node.log_path.read_text(errors="replace").splitlines():
                    match = _ELECTION.search(line)
                    if match is None:
                        continue
                    at = time.mktime(time.strptime(match["time"][:19], "%Y/%m/%d %H:%M:%S"))
                    at += float("0" + match["time"][19:])  # nats-server logs local time, as mktime reads it
                    group = "meta" if match["meta"] else match["group"]
                    if at >= since_unix and (group not in first or at - since_unix < first[group]):
                        first[group] = at - since_unix
        return first

    def stop(self) -> None:
        for node in self.nodes:
            _stop_process(node.process, 10)


class RabbitMq(Engine):
    """One RabbitMQ node with the MQTT plugin, private to the caller.

    ``definitions`` (users, permissions, topic permissions as in ``rabbitmqctl export_definitions``)
    are loaded at boot, which is much faster than one ``rabbitmqctl`` call per user.
    """

    host = "127.0.0.1"

    def __init__(self, workdir: Path, definitions: Path | None = None, extra_config: str = "") -> None:
        self.workdir = workdir
        self.definitions = definitions
        self.extra_config = extra_config
        self.node_name = f"passerelle-{secrets.token_hex(4)}@localhost"
        self.amqp_port = free_port()
        self.dist_port = free_port()
        self.mqtt_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "rabbitmq.out"

    def _environment(self) -> dict[str, str]:
        home = self.workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        cookie = home / ".erlang.cookie"
        if not cookie.exists():
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
        return {
            **os.environ,
            "HOME": str(home),
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": self.host,
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.workdir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.workdir / "log"),
            "RABBITMQ_PID_FILE": str(self.workdir / "rabbitmq.pid"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.workdir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.workdir / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.workdir / "advanced.config"),
        }

    def _write_config(self) -> None:
        (self.workdir / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        lines = [
            f"listeners.tcp.default = {self.host}:{self.amqp_port}",
            f"mqtt.listeners.tcp.default = {self.host}:{self.mqtt_port}",
            "mqtt.allow_anonymous = " + ("false" if self.definitions else "true"),
            "loopback_users = none",
            "log.console = false",
        ]
        if self.definitions is not None:
            lines.append(f"load_definitions = {self.definitions}")
        (self.workdir / "rabbitmq.conf").write_text("\n".join(lines) + "\n" + self.extra_config)

    def start(self, timeout: float = 90.0) -> float:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_config()
        started = time.monotonic()
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [str(RABBITMQ_SCRIPTS / "rabbitmq-server")],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=self._environment(),
            start_new_session=True,  # the Erlang VM is a child of the script: stop the whole group
        )
        log.close()
        while not port_open(self.host, self.mqtt_port):
            if self.process.poll() is not None:
                raise EngineError(f"rabbitmq exited at start: {_log_tail(self.log_path)}")
            if time.monotonic() - started > timeout:
                self.stop()
                raise EngineError(f"rabbitmq not listening in {timeout} s: {_log_tail(self.log_path)}")
            time.sleep(0.2)
        return time.monotonic() - started

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl`` against this node (e.g. ``set_topic_permissions``)."""
        result = subprocess.run(
            [str(RABBITMQ_SCRIPTS / "rabbitmqctl"), "-n", self.node_name, *args],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise EngineError(f"rabbitmqctl {args[0]} failed: {result.stderr.strip() or result.stdout}")
        return result.stdout

    def stop(self) -> None:
        timeout = 30.0
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def engine_dir(prefix: str) -> Iterator[Path]:
    """A throwaway directory for an engine's data (short: Erlang and sockets dislike long paths)."""
    path = Path(tempfile.mkdtemp(prefix=f"passerelle-{prefix}-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


MOSQUITTO_DYNSEC = Path("/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so")


def dynsec_broker(workdir: Path, dynsec_file: Path) -> PrivateBroker:
    """A private Mosquitto whose clients, roles and ACLs come from the dynamic-security plugin."""
    if not MOSQUITTO_DYNSEC.exists():
        raise EngineError(f"{MOSQUITTO_DYNSEC} is missing (Debian's mosquitto package ships it)")
    workdir.mkdir(parents=True, exist_ok=True)
    return PrivateBroker(
        workdir=workdir,
        extra_config=[
            "allow_anonymous false",  # the plugin authenticates; nobody gets in without a client entry
            f"plugin {MOSQUITTO_DYNSEC}",
            f"plugin_opt_config_file {dynsec_file}",
        ],
    )
