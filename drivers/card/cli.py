"""``passerelle atr`` and ``passerelle cards`` (``passerelle simulate card`` is in simulators/card/)."""

from __future__ import annotations

import argparse
import json
import sys

from passerelle.daemon.family import CliCommands
from passerelle.drivers.card.atr import AtrError, describe, parse_atr


def add_cli_commands(commands: CliCommands) -> None:
    atr = commands.top.add_parser("atr", help="card type and label of an ATR")
    atr.add_argument("atr", nargs="+", help='ATR in hex, e.g. "3B 75 13 00 00 47 09 EA 90 00"')
    atr.add_argument("--json", action="store_true")
    atr.set_defaults(handler=run_atr)

    cards = commands.top.add_parser("cards", help="readers and cards present now")
    cards.add_argument("--json", action="store_true")
    cards.add_argument("--pcsc-socket", help="pcscd client socket (default: the system one)")
    cards.set_defaults(handler=run_cards)


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
