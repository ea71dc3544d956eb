"""``passerelle simulate card``: a virtual card in a vpcd slot, kept in or inserted on a cycle."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from passerelle.daemon.simulator_hooks import SimulateCommands
from passerelle.simulators.card.virtual_cards import CARD_TYPES, make_card
from passerelle.simulators.card.vpcd_link import InsertedCard

SYSTEM_VPCD_PORT = 35963


def add_simulate_command(simulate: SimulateCommands) -> None:
    command = simulate.add_parser("card", help="insert a virtual card into vpcd until stopped")
    command.add_argument("type", choices=CARD_TYPES)
    command.add_argument("--slot", type=int, default=0, choices=(0, 1))
    command.add_argument("--vpcd-port", type=int, default=SYSTEM_VPCD_PORT, help="vpcd port of slot 0")
    command.add_argument("--host", default="127.0.0.1")
    command.add_argument(
        "--vpcd-socket", type=Path, help="the slot's bridge socket of an isolated pcscd (instead of a port)"
    )
    command.add_argument("--beneficiaries", type=int, default=2, help="Vitale 2: how many (1-3)")
    command.add_argument(
        "--cycle", type=float, default=0, help="insert and remove every CYCLE seconds (default: keep it in)"
    )
    command.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
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
