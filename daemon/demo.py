"""``passerelle demo``: a private broker, the daemon, every installed simulator, and a live view."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiomqtt

from passerelle.daemon.app import Daemon
from passerelle.daemon.broker import BrokerError, PrivateBroker, free_port, port_open
from passerelle.daemon.config import ConfigError, MqttSettings, load_config
from passerelle.daemon.family import load_families
from passerelle.daemon.logs import setup_logging
from passerelle.daemon.mqtt_options import connection_options, payload_bytes, tls_context
from passerelle.daemon.simulator_hooks import load_simulators
from passerelle.daemon.tail import describe
from passerelle.daemon.web.auth import load_or_create_token
from passerelle.daemon.web.settings import DEFAULT_PORT
from passerelle.daemon.web.url import console_url


def demo(args: argparse.Namespace) -> int:
    setup_logging("WARNING", "human")
    workdir = Path(tempfile.mkdtemp(prefix="passerelle-demo-"))
    try:
        return asyncio.run(_demo(args, workdir))
    except KeyboardInterrupt:
        return 0
    except (BrokerError, ConfigError) as exc:
        print(f"demo cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


async def _demo(args: argparse.Namespace, workdir: Path) -> int:
    families, family_errors = load_families()
    for error in family_errors:
        print(f"! {error.name} family unavailable: {error.reason}")
    simulators, simulator_errors = load_simulators()
    for simulator_error in simulator_errors:
        print(f"! {simulator_error.name} simulator unavailable: {simulator_error.reason}")
    broker: PrivateBroker | None = None
    overrides: dict[str, Any] = {
        "state_directory": str(workdir / "state"),
        "metrics": {"enabled": True, "port": free_port()},
    }
    if args.config is None:
        broker = PrivateBroker()
        broker.start()
        overrides["mqtt"] = {"host": broker.host, "port": broker.port}
        overrides["station"] = "demo"
        overrides["web"] = {"port": DEFAULT_PORT if port_free(DEFAULT_PORT) else free_port()}
    async with contextlib.AsyncExitStack() as stack:
        if broker is not None:
            stack.callback(broker.close)
        for name in families:
            simulator = simulators.get(name)
            if simulator is None:  # the demo shows simulated devices only (synthetic has no simulator)
                overrides[name] = {"enabled": False}
                continue
            section = await stack.enter_async_context(simulator.demo(workdir / name))
            if section is None:
                print(f"! {name} simulator cannot run on this machine (see: passerelle doctor)")
                continue
            overrides[name] = section
        config = load_config(args.config, families, overrides)
        settings = config.settings
        base = settings.base_topic
        print(f"Passerelle demo: broker {settings.mqtt.host}:{settings.mqtt.port}, base topic {base}")
        watch = f"mosquitto_sub -h {settings.mqtt.host} -p {settings.mqtt.port} -t '{base}/#' -v"
        print(f"  watch from another terminal:  {watch}")
        print(f"  metrics: http://{settings.metrics.address}:{settings.metrics.port}/metrics")
        if settings.web.enabled:
            token = load_or_create_token(settings.web, settings.state_directory)
            print(f"  console (open in a browser):  {console_url(settings.web, token)}")
        print("  Ctrl-C stops.\n")
        daemon = Daemon(config, families, family_errors)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        running = asyncio.create_task(daemon.run(stop))
        view = None if args.quiet else asyncio.create_task(_live_view(settings.mqtt, base))
        if args.duration is not None:
            loop.call_later(args.duration, stop.set)
        await stop.wait()
        result = await running
        if view is not None:
            view.cancel()
            await asyncio.gather(view, return_exceptions=True)
        print("\ndemo stopped.")
        return result


async def _live_view(mqtt: MqttSettings, base: str) -> None:
    connection = connection_options(mqtt, tls_context(mqtt.tls))  # a configured broker may want them
    while True:
        try:
            async with aiomqtt.Client(**connection, identifier="passerelle-demo-view") as client:
                await client.subscribe(f"{base}/#", qos=1)
                async for message in client.messages:
                    payload = payload_bytes(message)
                    print(describe(str(message.topic), payload, base, compact=True), flush=True)
        except aiomqtt.MqttError:
            await asyncio.sleep(1)


def port_free(port: int) -> bool:
    return not port_open("127.0.0.1", port)
