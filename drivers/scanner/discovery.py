"""Finding scanners: USB ids through sysfs and pyusb, stable names under /dev/*/by-id."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("/")  # tests point this at a fabricated tree


@dataclass(frozen=True)
class FoundDevice:
    driver: str  # "hid" or "serial"
    node: str  # /dev/input/eventN or /dev/ttyACMn
    stable: str | None  # by-id symlink when there is one
    usb_id: str | None  # "vvvv:pppp"
    name: str


def _usb_id_above(sys_device: Path) -> str | None:
    """Walk up the sysfs device tree to the USB device and read idVendor:idProduct."""
    current = sys_device.resolve()
    for _ in range(8):
        vendor, product = current / "idVendor", current / "idProduct"
        if vendor.exists() and product.exists():
            return f"{vendor.read_text().strip()}:{product.read_text().strip()}".lower()
        if current.parent == current:
            break
        current = current.parent
    return None


def _by_id(directory: Path) -> dict[str, str]:
    """Real node -> by-id symlink."""
    links: dict[str, str] = {}
    if directory.is_dir():
        for link in sorted(directory.iterdir()):
            links.setdefault(os.path.realpath(link), str(link))
    return links


def input_devices(root: Path = ROOT) -> list[FoundDevice]:
    links = _by_id(root / "dev/input/by-id")
    sys_input = root / "sys/class/input"
    found = []
    for entry in sorted(sys_input.glob("event*")) if sys_input.is_dir() else []:
        name_file = entry / "device" / "name"
        name = name_file.read_text().strip() if name_file.exists() else entry.name
        node = str(root / "dev/input" / entry.name)
        found.append(FoundDevice("hid", node, links.get(node), _usb_id_above(entry / "device"), name))
    return found


def serial_devices(root: Path = ROOT) -> list[FoundDevice]:
    links = _by_id(root / "dev/serial/by-id")
    sys_tty = root / "sys/class/tty"
    found = []
    for entry in sorted(sys_tty.glob("tty*")) if sys_tty.is_dir() else []:
        if not entry.name.startswith(("ttyACM", "ttyUSB", "rfcomm")):
            continue
        node = str(root / "dev" / entry.name)
        found.append(
            FoundDevice("serial", node, links.get(node), _usb_id_above(entry / "device"), entry.name)
        )
    return found


def usb_devices() -> list[tuple[str, str]]:
    """(VID:PID, product string) of every USB device pyusb sees; empty without libusb/permissions."""
    try:
        import usb.core

        devices = list(usb.core.find(find_all=True) or [])
    except Exception:  # no backend, no permission: discovery is best effort
        return []
    out = []
    for dev in devices:
        usb_id = f"{dev.idVendor:04x}:{dev.idProduct:04x}"
        try:
            product = str(dev.product or "")
        except Exception:  # reading strings needs access to the device
            product = ""
        out.append((usb_id, product))
    return out


def resolve_usb_input(usb_id: str, root: Path = ROOT) -> str | None:
    """First keyboard event node of a USB device, preferring its by-id ``-event-kbd`` name."""
    wanted = usb_id.lower()
    for device in input_devices(root):
        if device.usb_id == wanted and (device.stable is None or device.stable.endswith("-event-kbd")):
            return device.stable or device.node
    return None


def resolve_usb_serial(usb_id: str, root: Path = ROOT) -> str | None:
    wanted = usb_id.lower()
    for device in serial_devices(root):
        if device.usb_id == wanted:
            return device.stable or device.node
    return None
