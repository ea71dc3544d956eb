"""Discovery against a sysfs + /dev tree laid out like the kernel's (USB device -> interface ->
input device -> event node; USB device -> interface -> tty)."""

from __future__ import annotations

import os
from pathlib import Path

from passerelle.drivers.scanner.discovery import (
    input_devices,
    resolve_usb_input,
    resolve_usb_serial,
    serial_devices,
)


def fake_tree(root: Path) -> None:
    usb = root / "sys/devices/pci0000:00/0000:00:14.0/usb1/1-2"
    (usb / "idVendor").parent.mkdir(parents=True)
    (usb / "idVendor").write_text("0525\n")
    (usb / "idProduct").write_text("A4AC\n")
    hid = usb / "1-2:1.0/0003:0525:A4AC.0001/input/input7"
    (hid / "event4").mkdir(parents=True)
    (hid / "name").write_text("Inateck BCST-52\n")
    (root / "sys/class/input").mkdir(parents=True)
    os.symlink(hid / "event4", root / "sys/class/input/event4")
    os.symlink(hid, hid / "event4" / "device")
    tty = usb / "1-2:1.1/tty/ttyACM0"
    tty.mkdir(parents=True)
    os.symlink(usb / "1-2:1.1", tty / "device")
    (root / "sys/class/tty").mkdir(parents=True)
    os.symlink(tty, root / "sys/class/tty/ttyACM0")
    (root / "dev/input/by-id").mkdir(parents=True)
    (root / "dev/input/event4").touch()
    os.symlink("../event4", root / "dev/input/by-id/usb-Inateck_BCST-52-event-kbd")
    (root / "dev/serial/by-id").mkdir(parents=True)
    (root / "dev/ttyACM0").touch()
    os.symlink("../../ttyACM0", root / "dev/serial/by-id/usb-Inateck_BCST-52-if01")


def test_input_and_serial_devices_found_with_usb_ids_and_stable_names(tmp_path: Path) -> None:
    fake_tree(tmp_path)
    (device,) = input_devices(tmp_path)
    assert (device.usb_id, device.name) == ("0525:a4ac", "Inateck BCST-52")
    assert device.stable == str(tmp_path / "dev/input/by-id/usb-Inateck_BCST-52-event-kbd")
    (tty,) = serial_devices(tmp_path)
    assert tty.usb_id == "0525:a4ac"
    assert tty.stable == str(tmp_path / "dev/serial/by-id/usb-Inateck_BCST-52-if01")


def test_vid_pid_resolves_to_the_stable_names(tmp_path: Path) -> None:
    fake_tree(tmp_path)
    assert resolve_usb_input("0525:A4AC", tmp_path) == str(
        tmp_path / "dev/input/by-id/usb-Inateck_BCST-52-event-kbd"
    )
    assert resolve_usb_serial("0525:a4ac", tmp_path) == str(
        tmp_path / "dev/serial/by-id/usb-Inateck_BCST-52-if01"
    )
    assert resolve_usb_input("1234:5678", tmp_path) is None
