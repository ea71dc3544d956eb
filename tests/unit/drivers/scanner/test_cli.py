"""`passerelle decode`, `passerelle devices` and the family plugin surface, through the real CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from passerelle.daemon.cli import main
from passerelle.daemon.driver import DriverContext
from passerelle.daemon.family import Family, load_families
from passerelle.drivers.scanner import FAMILY
from passerelle.drivers.scanner.cli import unescape
from passerelle.drivers.scanner.config import ScannerSection
from passerelle.drivers.scanner.hid import HidScannerDriver
from passerelle.drivers.scanner.keymaps import FR
from passerelle.drivers.scanner.serial_port import SerialScannerDriver
from passerelle.simulators.scanner.keyboard import Typist, pack


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def payloads(out: str) -> list[dict[str, object]]:
    decoder, found, pos = json.JSONDecoder(), [], 0
    while pos < len(out.strip()):
        obj, pos = decoder.raw_decode(out, pos)
        found.append(obj)
        while pos < len(out) and out[pos].isspace():
            pos += 1
    return found


def test_decode_with_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "decode", "--escapes", r"]d2010340093000023617280200102AB41\x1d21H8KQ3P7W2M9")
    (payload,) = payloads(out)
    assert code == 0
    assert payload["kind"] == "gs1"
    assert payload["raw"] == "]d2010340093000023617280200102AB41\x1d21H8KQ3P7W2M9"
    assert payload["expiry"] == "2028-02-29"
    assert payload["cip13"] == "3400930000236"


def test_decode_without_escapes_keeps_backslashes(capsys: pytest.CaptureFixture[str]) -> None:
    _, out = run(capsys, "decode", r"AB\x1dCD")
    assert payloads(out)[0]["raw"] == r"AB\x1dCD"


def test_decode_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("3401560012347\n"))
    _, out = run(capsys, "decode")
    assert payloads(out)[0]["kind"] == "acl13"


def test_decode_from_evdev_recording(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    typist = Typist(FR, gs_mode="alt")
    events = typist.type("]d2010340093000023610AB\x1d21X/Y")
    typist.pause(1.0)
    events += typist.type("]C010101234564")
    recording = tmp_path / "scanner.evdev"
    recording.write_bytes(pack(events))
    code, out = run(capsys, "decode", "--from-evdev", str(recording), "--layout", "fr")
    found = payloads(out)
    assert code == 0
    assert [p["kind"] for p in found] == ["gs1", "rpps"]
    assert found[0]["serial"] == "X/Y"
    # The same recording read with the wrong layout shows the classic mismatch, not a crash.
    _, wrong = run(capsys, "decode", "--from-evdev", str(recording), "--layout", "us")
    assert payloads(wrong)[1]["raw"] != "]C010101234564"


def test_unescape() -> None:
    assert unescape(r"a\x1db\rc\td\\e\u241d") == "a\x1db\rc\td\\e\u241d"


def test_devices_runs_without_scanners(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out = run(capsys, "devices", "--usb-id", "0525:a4ac", "--config", str(tmp_path / "none.toml"))
    assert code == 0
    assert "0525:a4ac" in out


def test_family_plugin_builds_one_driver_per_device(tmp_path: Path) -> None:
    typed: Family = FAMILY  # mypy checks the plugin against the Family protocol here
    assert typed.name == "scanner"
    families, errors = load_families()
    assert "scanner" not in [e.name for e in errors]
    family = families["scanner"]
    assert [(event.schema, event.leaf) for event in family.events] == [("passerelle.scan/1", "scan")]
    section = family.section_model.model_validate(
        {
            "devices": [
                {"id": "a", "driver": "hid", "path": "/dev/input/by-id/x-event-kbd", "layout": "fr"},
                {"id": "b", "driver": "serial", "usb": "0525:A4AC", "terminator": "crlf"},
            ]
        }
    )
    assert isinstance(section, ScannerSection)
    drivers = family.create_drivers(section, DriverContext("test", tmp_path, tmp_path))
    assert isinstance(drivers[0], HidScannerDriver)
    assert isinstance(drivers[1], SerialScannerDriver)
    assert len(drivers) == 2
    assert [d.name for d in drivers] == ["scanner/a", "scanner/b"]
    checks = family.doctor(section)
    assert any(not c.ok and c.fix for c in checks)  # the HID path does not exist here


@pytest.mark.parametrize(
    "bad",
    [
        {"devices": [{"id": "A", "driver": "hid", "path": "/x"}]},
        {"devices": [{"id": "a", "driver": "hid"}]},
        {"devices": [{"id": "a", "driver": "usb", "path": "/x"}]},
        {
            "devices": [
                {"id": "a", "driver": "hid", "path": "/x"},
                {"id": "a", "driver": "serial", "path": "/y"},
            ]
        },
        {"usb_ids": ["nope"]},
    ],
)
def test_invalid_sections_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        ScannerSection.model_validate(bad)


def test_doctor_reports_each_device(tmp_path: Path) -> None:
    present = tmp_path / "event-present"
    present.touch()
    section = ScannerSection.model_validate(
        {
            "devices": [
                {"id": "here", "driver": "hid", "path": str(present)},
                {"id": "gone", "driver": "serial", "usb": "0525:a4ac"},
            ]
        }
    )
    checks = {c.name: c for c in FAMILY.doctor(section)}
    assert checks["scanner here"].ok
    assert not checks["scanner gone"].ok
    assert checks["scanner gone"].fix
    assert checks["python-evdev"].ok


def test_decode_lines_gives_one_json_object_per_input_line_in_order(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [
        rb"]d2010340093000023610AB\x1d21X",
        b"10101234564",
        b"",
        b"LOT\xff42",  # bad UTF-8 costs only its own line
        b"2910199001002",  # a NIR without its key: masked
        b"3400930000236\r",  # a CRLF file
    ]
    stdin = io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"))
    monkeypatch.setattr("sys.stdin", stdin)
    code, out = run(capsys, "decode", "--lines", "--escapes")
    objects = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [o["kind"] for o in objects] == ["gs1", "rpps", "text", "text", "text", "cip13"]
    assert objects[0]["serial"] == "X"  # --escapes applied to each line
    assert objects[2]["problems"] == ["empty"]
    assert objects[3]["problems"] == ["not_utf8"]
    assert (objects[4]["raw"], objects[4]["redacted"]) == ("*" * 13, True)
