"""``passerelle atr``, ``passerelle cards`` and ``passerelle simulate card``."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from passerelle.daemon.family import CliCommands
from passerelle.drivers.card.atr import AtrError, describe, parse_atr

if TYPE_CHECKING:  # for the annotation only: handlers import what they need when they run
    from passerelle.simulators.card.vpcd_link import InsertedCard

SYSTEM_VPCD_PORT = 35963


def add_cli_commands(commands: CliCommands) -> None:
    atr = commands.top.add_parser("atr", help="card type and label of an ATR")
    atr.add_argument("atr", nargs="+", help='ATR in hex, e.g. "3B 75 13 00 00 47 09 EA 90 00"')
    atr.add_argument("--json", action="store_true")
    atr.set_defaults(handler=run_atr)

    cards = commands.top.add_parser("cards", help="readers and cards present now")
    cards.add_argument("--json", action="store_true")
    cards.add_argument("--pcsc-socket", help="pcscd client socket (default: the system one)")
    cards.set_defaults(handler=run_cards)

    from passerelle.simulators.card.virtual_cards import CARD_TYPES

    simulate = commands.simulate.add_parser("card", help="insert a virtual card into vpcd until stopped")
    simulate.add_argument("type", choices=CARD_TYPES)
    simulate.add_argument("--slot", type=int, default=0, choices=(0, 1))
    simulate.add_argument("--vpcd-port", type=int, default=SYSTEM_VPCD_PORT, help="vpcd port of slot 0")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument(
        "--vpcd-socket", type=Path, help="the slot's bridge socket of an isolated pcscd (instead of a port)"
    )
    simulate.add_argument("--beneficiaries", type=int, default=2, help="Vitale 2: how many (1-3)")
    simulate.add_argument(
        "--cycle", type=float, default=0, help="insert and remove every CYCLE seconds (default: keep it in)"
    )
    simulate.set_defaults(handler=run_simulate)


def run_atr(args: argparse.Namespace) -> int:
    # "3B 75 13 …" may arrive as one argument or as one argument per byte.
    text = " ".join(args.atr)
    try:
        found = describe(parse_atr(text))
    except AtrError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"atr": found.atr, "card_type": found.card_type.value, "label": found.label}))
    else:
        print(f"{found.card_type.value}\t{found.label or '-'}\t{found.atr}")
    return 0


def run_cards(args: argparse.Namespace) -> int:
    from passerelle.drivers.card.pcsc_api import PcscError, ScardApi, bind_socket

    bind_socket(args.pcsc_socket)
    from passerelle.drivers.card.snapshot import take_snapshot

    try:
        slots = take_snapshot(ScardApi())
    except PcscError as exc:
        print(f"error: pcscd does not answer ({exc}); try `passerelle doctor`", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([slot.as_dict() for slot in slots], indent=2))
        return 0
    if not slots:
        print("no reader")
    for slot in slots:
        card = f"{slot.card_type} ({slot.label or 'no label'}) {slot.atr}" if slot.atr else ""
        print(f"{slot.reader_id}\tslot {slot.slot}\t{slot.status}\t{card}".rstrip())
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from passerelle.simulators.card.virtual_cards import make_card
    from passerelle.simulators.card.vpcd_link import InsertedCard

    port = args.vpcd_port + args.slot
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while True:
        card = InsertedCard(
            make_card(args.type, args.beneficiaries), port, host=args.host, bridge=args.vpcd_socket
        )
        try:
            card.insert(timeout=10)
        except OSError as exc:
            where = args.vpcd_socket or f"{args.host}:{port}"
            print(f"error: vpcd not reachable on {where} ({exc})", file=sys.stderr)
            return 1
        until = f"for {args.cycle:g} s" if args.cycle else "until Ctrl-C"
        print(f"{args.type} card inserted in slot {args.slot} (vpcd port {port}) {until}", flush=True)
        stopped = stop.wait(args.cycle) if args.cycle else _wait_while_active(card, stop)
        if not card.active and not stopped:
            print("vpcd closed the connection", file=sys.stderr)
            return 1
        card.remove()
        print("card removed", flush=True)
        if stopped or not args.cycle or stop.wait(args.cycle):
            return 0


def _wait_while_active(card: InsertedCard, stop: threading.Event) -> bool:
    while not stop.wait(0.5):
        if not card.active:
            return False
    return True
