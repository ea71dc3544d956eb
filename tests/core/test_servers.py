"""mqtt.servers as configured and as seen in health and logs: parsing, bad lists (exit 78), the
environment's JSON list, IPv6, TLS names checked per server, refused credentials and no reachable
server (events stay stored)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiomqtt
import pytest

from passerelle.daemon.backoff import Backoff
from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.daemon.config import load_config
from passerelle.daemon.family import load_families
from passerelle.daemon.servers import Server, ServerRotation, parse_servers
from passerelle.testing.support import base_config, collect, inprocess_daemon, to_toml, wait_until
from tests.core.test_auth import broker_with_acl
from tests.core.test_config_errors import passerelle
from tests.core.test_failover import kill_broker
from tests.core.test_tls import openssl


def test_server_entries_take_host_port_ipv6_and_the_default_port() -> None:
    assert parse_servers(["Node-1.example:8883", "[::1]:1884", "node-2", "[fe80::2]"], 1883) == [
        Server("node-1.example", 8883),
        Server("::1", 1884),
        Server("node-2", 1883),
        Server("fe80::2", 1883),
    ]
    assert str(Server("::1", 1884)) == "[::1]:1884"


@pytest.mark.parametrize(
    ("servers", "reason"),
    [
        (["a:1883", "b:1883", "A:1883"], "listed twice"),
        (["a", "a:1883"], "listed twice"),  # the same once the default port is applied
        ([], "at least one server"),
        (["a:99999"], "port must be 1-65535"),
        (["::1:1883"], "not host:port"),
        (["mqtt://a:1883"], "not host:port"),
    ],
)
def test_a_bad_server_list_stops_run_and_check_with_exit_78(
    servers: list[str], reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(to_toml(base_config(free_port(), tmp_path / "state", mqtt={"servers": servers})))
    for result in (
        passerelle("config", "check", "--config", str(path), env={}),
        passerelle("run", "--config", str(path), env={}),
    ):
        assert result.returncode == 78, result.stdout + result.stderr
        output = result.stdout + result.stderr
        assert "mqtt.servers:" in output and reason in output and "Traceback" not in output


def test_the_environment_takes_a_json_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PASSERELLE_MQTT__SERVERS", '["n1.example:1883", "[::1]:1884", "n3.example"]')
    monkeypatch.setenv("PASSERELLE_STATE_DIRECTORY", str(tmp_path))
    families, _ = load_families()
    config = tmp_path / "config.toml"
    config.write_text('station = "env"\n[mqtt]\nport = 8883\n')
    settings = load_config(config, families).settings
    assert [str(s) for s in settings.mqtt.server_list()] == [
        "n1.example:1883",
        "[::1]:1884",
        "n3.example:8883",
    ]


async def test_an_ipv6_server_is_used_and_named_in_health_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="passerelle.daemon.publisher")
    v6_port = free_port()
    with PrivateBroker(extra_config=[f"listener {v6_port} ::1"]) as broker:
        server = f"[::1]:{v6_port}"
        config = base_config(broker.port, tmp_path / "state", mqtt={"servers": [server]})
        async with (
            collect(broker.host, broker.port, "passerelle/test/bridge/health") as seen,
            inprocess_daemon(config) as daemon,
        ):
            await wait_until(lambda: daemon.publisher.stats.connected, 10, "connected over IPv6")
            assert daemon.health()["broker"]["server"] == server
            await seen.wait_for(
                lambda m: any(x.json()["broker"]["server"] == server for x in m), 10, "retained health"
            )
        assert f"MQTT connected to {server}" in caplog.messages


def pki_for(d: Path, names: str) -> None:
    """A CA and one server certificate whose subjectAltName is exactly ``names``."""
    d.mkdir(parents=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
            "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    (d / "san.ext").write_text(f"subjectAltName={names}\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=node", "-keyout", "server.key",
            "-out", "server.csr", cwd=d)  # fmt: skip
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "san.ext", "-out", "server.pem", cwd=d)  # fmt: skip


def tls_node(pki: Path, ca: Path) -> tuple[PrivateBroker, int]:
    port = free_port()
    lines = [f"listener {port} 127.0.0.1", f"cafile {ca}", f"certfile {pki / 'server.pem'}",
             f"keyfile {pki / 'server.key'}", "allow_anonymous true"]  # fmt: skip
    return PrivateBroker(extra_config=lines), port


async def test_tls_checks_each_servers_own_name(tmp_path: Path) -> None:
    """Node one is certified for "localhost" only, node two for 127.0.0.1 only: each must be reached by
    the name its certificate carries, and the same name checked against the other node fails."""
    pki_for(tmp_path / "one", "DNS:localhost")
    both_cas = tmp_path / "cas.pem"
    pki_for(tmp_path / "two", "IP:127.0.0.1")
    both_cas.write_bytes(
        (tmp_path / "one" / "ca.pem").read_bytes() + (tmp_path / "two" / "ca.pem").read_bytes()
    )
    one, one_tls = tls_node(tmp_path / "one", tmp_path / "one" / "ca.pem")
    two, two_tls = tls_node(tmp_path / "two", tmp_path / "two" / "ca.pem")
    with one, two:
        tls = {"enabled": True, "ca_file": str(both_cas)}
        good = [f"localhost:{one_tls}", f"127.0.0.1:{two_tls}"]
        config = base_config(one.port, tmp_path / "state", mqtt={"servers": good, "tls": tls})
        async with inprocess_daemon(config) as daemon:
            await wait_until(lambda: daemon.publisher.stats.connected, 10, "TLS to node one by its name")
            assert daemon.health()["broker"]["server"] == good[0]
            kill_broker(one)
            await wait_until(
                lambda: daemon.publisher.stats.connected and daemon.publisher.stats.server == good[1],
                30,  # a handshake that times out under load costs a backoff round before the next try
                "TLS to node two by its own name",
            )
        # Node two reached by a name its certificate does not carry: refused, and health says why.
        wrong = [f"localhost:{two_tls}"]
        config = base_config(two.port, tmp_path / "state2", mqtt={"servers": wrong, "tls": tls})
        async with inprocess_daemon(config) as daemon:
            await wait_until(lambda: daemon.publisher.stats.last_error is not None, 10, "a refusal")
            await asyncio.sleep(0.5)
            assert not daemon.publisher.stats.connected
            assert "CERTIFICATE_VERIFY_FAILED" in (daemon.publisher.stats.last_error or "")
            assert wrong[0] in daemon.health()["problems"][0]


async def test_refused_credentials_name_the_server_and_keep_events(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = broker_with_acl(tmp_path / "mq", allow_events=True)
    broker.start()
    try:
        server = f"127.0.0.1:{broker.port}"
        mqtt = {"servers": [server], "username": "comptoir", "password": "wrong"}
        synthetic = {"devices": [{"id": "kept", "rate": 0, "count": 40}]}
        config = base_config(broker.port, tmp_path / "state", mqtt=mqtt, synthetic=synthetic)
        with caplog.at_level(logging.WARNING, logger="passerelle.daemon.publisher"):
            async with inprocess_daemon(config) as daemon:
                await wait_until(lambda: daemon.outbox.count == 40, 10, "40 events stored")
                await wait_until(lambda: daemon.publisher.stats.last_error is not None, 10, "a refusal")
                health = daemon.health()
                assert health["status"] == "yellow"
                assert health["broker"]["server"] == server
                problem = health["problems"][0]
                assert server in problem and "refused this station's credentials" in problem, problem
                assert daemon.outbox.count == 40  # nothing lost
        assert any(server in r.getMessage() and "Not authorized" in r.getMessage()
                   for r in caplog.records)  # fmt: skip
        assert "wrong" not in caplog.text
    finally:
        broker.close()


async def test_no_reachable_server_keeps_events_until_one_answers(tmp_path: Path) -> None:
    late = PrivateBroker(persistence=True, workdir=tmp_path / "mq")
    (tmp_path / "mq").mkdir()
    billing = {"identifier": "billing", "clean_session": False}
    late.start()  # a consumer's persistent session, so that it misses nothing once the broker is back
    async with collect(late.host, late.port, "passerelle/test/synthetic", **billing):
        pass
    late.stop()
    dead = free_port()
    servers = [f"127.0.0.1:{dead}", f"127.0.0.1:{late.port}"]
    synthetic = {"devices": [{"id": "waiting", "rate": 0, "count": 25}]}
    config = base_config(dead, tmp_path / "state", mqtt={"servers": servers}, synthetic=synthetic)
    try:
        async with inprocess_daemon(config) as daemon:
            await wait_until(lambda: daemon.outbox.count == 25, 10, "25 events stored")
            await wait_until(lambda: str(late.port) in (daemon.publisher.stats.last_error or ""), 10,
                             "both servers tried")  # fmt: skip
            assert daemon.publisher.stats.connects_total == 0
            problem = daemon.health()["problems"][0]
            assert "no server answered" in problem and all(s in problem for s in servers), problem
            assert "refused" in problem.lower()
            late.start()
            async with collect(late.host, late.port, "passerelle/test/synthetic", **billing) as seen:
                await seen.wait_for(lambda m: len(m) >= 25, 15, "the stored events")
        assert {e["data"]["seq"] for e in seen.events()} == set(range(25))
    finally:
        late.close()


async def test_a_consumer_with_the_stations_identity_is_named_and_nothing_is_lost(
    broker: PrivateBroker, tmp_path: Path
) -> None:
    """Mosquitto 2.0 closes a taken-over session without a reason code: the station sees its accepted
    sessions closed one after another, and says who may be doing it."""
    synthetic = {"devices": [{"id": "twin", "rate": 50, "count": 150, "resume": True}]}
    config = base_config(broker.port, tmp_path / "state", synthetic=synthetic)
    async with (
        collect(broker.host, broker.port, "passerelle/test/synthetic") as seen,
        inprocess_daemon(config) as daemon,
    ):
        stats = daemon.publisher.stats
        for round_ in range(1, 4):

            def up(accepted: int = round_) -> bool:  # sessions so far, each pushed off by a consumer
                return stats.connected and stats.connects_total == accepted

            await wait_until(up, 10, "the station connected again")
            async with aiomqtt.Client(broker.host, broker.port, identifier=daemon.settings.client_id):
                await wait_until(lambda: not stats.connected, 10, "the station pushed off")
        await wait_until(lambda: "client id 'passerelle-test'" in (stats.last_error or ""), 10, "the hint")
        assert "another client may be connected" in (stats.last_error or "")
        await seen.wait_for(lambda _: {e["data"]["seq"] for e in seen.events()} >= set(range(150)), 20,
                            "every event")  # fmt: skip


def test_the_backoff_grows_only_when_every_server_failed_since_the_last_connection() -> None:
    rotation = ServerRotation([Server("a", 1), Server("b", 1)])
    backoff = Backoff(0.5, 30.0)
    # Connected to a, then a dies: b is tried after the shortest delay.
    rotation.connected()
    assert rotation.failed("lost") == "a:1: lost"
    assert rotation.next_attempt_delay(backoff) <= 0.5 and rotation.current == Server("b", 1)
    # b accepts, then dies too: back to a, still quickly (a connection happened in between).
    rotation.connected()
    rotation.failed("lost")
    assert rotation.next_attempt_delay(backoff) <= 0.5 and backoff.attempt == 0
    # Now a refuses too: every server failed since the last connection, and health says so.
    assert rotation.failed("refused") == "no server answered (b:1: lost; a:1: refused)"
    delays = []
    for _ in range(6):
        delays.append(rotation.next_attempt_delay(backoff))
        rotation.failed("refused")
    # One growing wait per round of the list, the other server tried right after it.
    assert backoff.attempt == 3 and all(d <= 0.5 for d in delays[1::2]) and delays[4] > 1.0
