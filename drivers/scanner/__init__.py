"""Barcode scanners (Inateck BCST-42/52 and alike) in HID keyboard or serial (virtual COM/SPP) mode.

Publishes ``passerelle.scan/1`` events on the ``scan`` channel.
"""

from __future__ import annotations

import contextlib
import grp
import os
from collections.abc import Sequence
from pathlib import Path

from passerelle.daemon.driver import Driver, DriverContext
from passerelle.daemon.family import CliCommands, DoctorCheck, EventDeclaration, FamilyBase, FamilySection
from passerelle.drivers.scanner.config import ScannerDevice, ScannerSection
from passerelle.drivers.scanner.payload import SCAN_SCHEMA, ScanPayload


class ScannerFamily(FamilyBase):
    name = "scanner"
    section_model = ScannerSection
    events = (
        EventDeclaration(
            SCAN_SCHEMA, ScanPayload, "scan", "one scan, decoded — see [scanners.md](scanners.md)"
        ),
    )

    def create_drivers(self, section: FamilySection, context: DriverContext) -> Sequence[Driver]:
        from passerelle.drivers.scanner.hid import HidScannerDriver
        from passerelle.drivers.scanner.serial_port import SerialScannerDriver

        assert isinstance(section, ScannerSection)
        drivers: list[Driver] = []
        rules = section.rules()
        for device in section.devices:
            if device.driver == "hid":
                drivers.append(HidScannerDriver(device, rules))
            else:
                drivers.append(SerialScannerDriver(device, rules))
        return drivers

    def add_cli_commands(self, commands: CliCommands) -> None:
        from passerelle.drivers.scanner.cli import add_cli_commands

        add_cli_commands(commands)

    def doctor(self, section: FamilySection | None) -> Sequence[DoctorCheck]:
        from passerelle.drivers.scanner.discovery import resolve_usb_input, resolve_usb_serial

        fix = (
            "plug the scanner in (`passerelle devices` lists what is attached); install the rules from "
            "systemd/udev/70-passerelle-scanners.rules.in and give the service the 'passerelle-scanner' group"
        )
        checks: list[DoctorCheck] = []
        devices: list[ScannerDevice] = section.devices if isinstance(section, ScannerSection) else []
        for device in devices:
            path = device.path
            if path is None and device.usb is not None:
                resolve = resolve_usb_input if device.driver == "hid" else resolve_usb_serial
                path = resolve(device.usb)
                if path is None:
                    checks.append(
                        DoctorCheck(f"scanner {device.id}", False, f"no device with USB id {device.usb}", fix)
                    )
                    continue
            assert path is not None
            exists = Path(path).exists()
            readable = exists and os.access(path, os.R_OK)
            state = "readable" if readable else "missing" if not exists else "not readable"
            checks.append(
                DoctorCheck(f"scanner {device.id}", readable, f"{path} {state}", None if readable else fix)
            )
        if any(d.driver == "hid" for d in devices):
            try:
                import evdev  # noqa: F401 - only checking that it imports

                checks.append(DoctorCheck("python-evdev", True, "importable"))
            except ImportError as exc:
                checks.append(
                    DoctorCheck("python-evdev", False, str(exc), "reinstall: bash scripts/setup.sh")
                )
        with contextlib.suppress(KeyError):
            grp.getgrnam("passerelle-scanner")
            checks.append(DoctorCheck("scanner group", True, "group passerelle-scanner exists"))
        return checks


FAMILY = ScannerFamily()
