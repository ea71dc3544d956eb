"""``passerelle decode`` and ``passerelle devices`` (``passerelle simulate scanner``: simulators/scanner/)."""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

from passerelle.daemon.family import CliCommands
from passerelle.drivers.scanner.decode import decode_bytes, decode_text
from passerelle.drivers.scanner.discovery import input_devices, serial_devices, usb_devices
from passerelle.drivers.scanner.hid import decode_evdev_stream
from passerelle.drivers.scanner.payload import ScanPayload

_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|[rnt\\])")
_SIMPLE = {"r": "\r", "n": "\n", "t": "\t", "\\": "\\"}


def unescape(text: str) -> str:
    """``\\x1d``, ``\\u241d``, ``\\r``, ``\\n``, ``\\t`` and ``\\\\``; other text is kept as is."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        return _SIMPLE[code] if code in _SIMPLE else chr(int(code[1:], 16))

    return _ESCAPE.sub(one, text)


def _print(payload: ScanPayload) -> None:
    print(json.dumps(payload.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2))


def _decode_line(line: bytes, escapes: bool) -> ScanPayload:
    """One line of ``--lines`` input: its own scan, bad UTF-8 reported on that line only."""
    line = line.removesuffix(b"\n").removesuffix(b"\r")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return decode_bytes(line)
    return decode_text(unescape(text) if escapes else text)


def _decode_lines(escapes: bool) -> int:
    for line in sys.stdin.buffer:
        payload = _decode_line(line, escapes)
        print(json.dumps(payload.model_dump(mode="json", exclude_none=True), ensure_ascii=False), flush=True)
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    if args.lines:
        return _decode_lines(args.escapes)
    if args.from_evdev is not None:
        data = Path(args.from_evdev).read_bytes()
        payloads = decode_evdev_stream(data, args.layout, args.terminator, args.idle_ms, args.min_length)
        for payload in payloads:
            _print(payload)
        if not payloads:
            print("no scan found in the stream", file=sys.stderr)
            return 1
        return 0
    if args.raw is not None:
        text = args.raw
    else:
        text = sys.stdin.read()
        text = text[:-1] if text.endswith("\n") else text
    if args.escapes:
        text = unescape(text)
    _print(decode_text(text))
    return 0


def _configured_usb_ids(path: Path | None) -> list[str]:
    if path is None or not path.exists():
        return []
    with path.open("rb") as handle:
        section = tomllib.load(handle).get("scanner", {})
    ids = [str(i).lower() for i in section.get("usb_ids", [])]
    ids += [str(d["usb"]).lower() for d in section.get("devices", []) if d.get("usb")]
    return ids


def cmd_devices(args: argparse.Namespace) -> int:
    wanted = {u.lower() for u in args.usb_id} | set(_configured_usb_ids(args.config))
    candidates = [d for d in input_devices() if d.stable and d.stable.endswith("-event-kbd")]
    candidates += serial_devices()
    shown = [d for d in candidates if args.all or not wanted or d.usb_id in wanted]
    given = ", ".join(sorted(wanted)) or "(none given: showing every keyboard and serial port)"
    print(f"matching USB ids: {given}")
    for device in shown:
        mark = "*" if device.usb_id in wanted else " "
        usb_id = device.usb_id or "????:????"
        print(f"{mark} {device.driver:6} {usb_id}  {device.stable or device.node}  {device.name}")
    usb = [(u, p) for u, p in usb_devices() if not wanted or u in wanted]
    for usb_id, product in usb:
        print(f"  usb    {usb_id}  {product}")
    matches = [d for d in shown if d.usb_id in wanted]
    if matches:
        print("\nsuggested configuration:\n\n[scanner]")
        print(f"usb_ids = {json.dumps(sorted(wanted))}")
        for i, device in enumerate(matches, 1):
            print(f'\n[[scanner.devices]]\nid = "scanner-{i}"\ndriver = "{device.driver}"')
            print(f'path = "{device.stable or device.node}"')
            if device.driver == "hid":
                print('layout = "fr"  # the keyboard language set on the scanner')
    elif not shown and not usb:
        print("no scanner found; give its VID:PID with --usb-id, or check `lsusb`")
    return 0


def add_cli_commands(commands: CliCommands) -> None:
    decode = commands.top.add_parser("decode", help="decode a scan (text or recorded evdev stream) to JSON")
    decode.add_argument("raw", nargs="?", default=None, help="the scanned text (default: stdin)")
    decode.add_argument("--layout", choices=["us", "fr"], default="us", help="scanner keyboard language")
    decode.add_argument("--escapes", action="store_true", help=r"interpret \x1d, \r, \t, \n, \uXXXX")
    decode.add_argument(
        "--lines", action="store_true", help="one scan per line of stdin, one JSON object per output line"
    )
    decode.add_argument("--from-evdev", metavar="FILE", default=None, help="24-byte input_event records")
    decode.add_argument("--terminator", choices=["cr", "lf", "crlf", "tab", "none"], default="cr")
    decode.add_argument("--idle-ms", type=int, default=100, help="idle gap that ends a scan")
    decode.add_argument("--min-length", type=int, default=3, help="shorter fragments are human typing")
    decode.set_defaults(handler=cmd_decode)

    devices = commands.top.add_parser("devices", help="list attached scanners and suggest configuration")
    devices.add_argument("--usb-id", action="append", default=[], metavar="VID:PID")
    devices.add_argument("--config", type=Path, default=Path("/etc/passerelle/config.toml"))
    devices.add_argument("--all", action="store_true", help="also list non-matching devices")
    devices.set_defaults(handler=cmd_devices)
