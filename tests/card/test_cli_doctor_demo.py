"""``passerelle atr|cards|simulate card``, the doctor, and the demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from passerelle.daemon.family import CliCommands, Family
from passerelle.drivers.card import FAMILY
from passerelle.drivers.card.config import CardSection
from passerelle.drivers.card.pcsc_api import STATE_EMPTY, STATE_PRESENT
from passerelle.simulators.card.hooks import SIMULATOR
from passerelle.simulators.card.isolated_pcscd import IsolatedPcscd
from passerelle.simulators.card.virtual_cards import ATRS, make_card
from passerelle.simulators.card.vpcd_bridge import bridge_socket
from tests.card.conftest import READER_ID, Slots, wait_slots_state

REPO = Path(__file__).resolve().parents[2]


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="passerelle")
    top = parser.add_subparsers(required=True)
    simulate = top.add_parser("simulate").add_subparsers(required=True)
    FAMILY.add_cli_commands(CliCommands(top=top))
    SIMULATOR.add_simulate_commands(simulate)
    args = parser.parse_args(argv)
    result: int = args.handler(args)
    return result


async def spawn_cli(argv: list[str]) -> asyncio.subprocess.Process:
    """``run_cli`` in its own process, for commands that run until a signal."""
    script = "import sys\nfrom tests.card.test_cli_doctor_demo import run_cli as r\nsys.exit(r(sys.argv[1:]))"
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, *argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def test_family_satisfies_the_protocol() -> None:
    family: Family = FAMILY
    assert family.name == "card"
    leaves = {event.schema: event.leaf for event in family.events}
    assert leaves == {"passerelle.card/1": "card", "passerelle.card-data/1": "card-data"}


def test_atr_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["atr", *ATRS["cps4"].split()]) == 0
    assert capsys.readouterr().out.split("\t")[0] == "cps4"
    assert run_cli(["atr", "--json", "3F652500240 96B9000"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["card_type"] == "unknown" and "Postgirot" in found["label"]
    assert run_cli(["atr", "not-hex"]) == 2
    assert "not an ATR" in capsys.readouterr().err


async def test_cards_command(slots: Slots, capsys: pytest.CaptureFixture[str]) -> None:
    slots.insert(make_card("vitale2"), slot=0)
    await asyncio.to_thread(wait_slots_state, STATE_PRESENT, (0,))
    assert run_cli(["cards", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert [(s["reader_id"], s["slot"], s["status"], s["card_type"]) for s in listing] == [
        (READER_ID, 0, "present", "vitale2"),
        (READER_ID, 1, "empty", None),
    ]
    assert run_cli(["cards"]) == 0
    assert "vitale2" in capsys.readouterr().out


def test_doctor_reaches_the_private_pcscd(pcscd: IsolatedPcscd) -> None:
    pcscd.start()
    section = CardSection.model_validate({"devices": [{"pcsc_socket": str(pcscd.socket_path)}]})
    checks = {c.name: c for c in FAMILY.doctor(section)}
    assert checks["pcscd installed"].ok
    assert checks["vpcd installed (simulator, demo)"].ok
    assert checks["pcscd reachable"].ok and "Passerelle Virtual PCD" in checks["pcscd reachable"].detail
    polkit = checks["polkit rule for the passerelle user"]
    assert polkit.ok or (polkit.fix is not None and "polkit" in polkit.fix)


async def test_simulate_card_command_keeps_a_card_until_stopped(pcscd: IsolatedPcscd, slots: Slots) -> None:
    bridge = bridge_socket(pcscd.root, pcscd.port + 1)  # vpcd itself is in pcscd's network namespace
    process = await spawn_cli(["simulate", "card", "cps3", "--slot", "1", "--vpcd-socket", str(bridge)])
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        if not line:
            assert process.stderr is not None
            raise AssertionError(await process.stderr.read())
        assert b"cps3 card inserted in slot 1" in line and b"until Ctrl-C" in line
        await asyncio.to_thread(wait_slots_state, STATE_PRESENT, (1,))
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    await asyncio.to_thread(wait_slots_state, STATE_EMPTY, (1,))


DEMO_PROBE = textwrap.dedent(
    """
    import asyncio, json, sys
    from pathlib import Path
    from passerelle.daemon.driver import DriverContext, DriverEvent
    from passerelle.drivers.card import FAMILY
    from passerelle.drivers.card.events import CardEvent
    from passerelle.simulators.card.hooks import SIMULATOR

    async def main():
        async with SIMULATOR.demo(Path(sys.argv[1])) as config:
            if config is None:
                print(json.dumps(None)); return
            section = FAMILY.section_model.model_validate(config)
            (driver,) = FAMILY.create_drivers(section, DriverContext("demo", Path("/tmp"), Path("/tmp")))
            await driver.start()
            seen = {}
            async def consume():
                async for item in driver.events():
                    if isinstance(item, DriverEvent) and isinstance(item.data, CardEvent):
                        if item.data.event == "inserted":
                            seen[item.data.slot] = item.data.card_type.value
                            if len(seen) == 2:
                                return
            await asyncio.wait_for(consume(), 20)
            await driver.stop()
            print(json.dumps(seen))

    asyncio.run(main())
    """
)


async def test_demo_inserts_cards_in_both_slots(tmp_path: Path) -> None:
    # Its own process: libpcsclite binds a process to one pcscd socket, and the demo has its own.
    env = {k: v for k, v in os.environ.items() if k != "PCSCLITE_CSOCK_NAME"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DEMO_PROBE, str(tmp_path), cwd=REPO, env=env, stdout=subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(), 40)
    assert process.returncode == 0
    assert json.loads(out) == {"0": "vitale2", "1": "cps3"}


async def test_simulate_card_on_a_cycle(pcscd: IsolatedPcscd, slots: Slots) -> None:
    bridge = bridge_socket(pcscd.root, pcscd.port)
    argv = ["simulate", "card", "vitale1", "--vpcd-socket", str(bridge), "--cycle", "0.6"]
    process = await spawn_cli(argv)
    try:
        assert process.stdout is not None
        lines = [await asyncio.wait_for(process.stdout.readline(), 10) for _ in range(3)]
        heads = [b" ".join(line.strip().split(b" ")[0:2]) for line in lines]
        assert heads == [b"vitale1 card", b"card removed", b"vitale1 card"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    await asyncio.to_thread(wait_slots_state, STATE_EMPTY, (0,))
