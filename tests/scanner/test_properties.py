"""Property tests: GS1 round trips through the HID simulator and driver, and robustness to noise."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from passerelle.daemon.driver import DeviceState
from passerelle.drivers.scanner.checks import gs1_check_digit
from passerelle.drivers.scanner.config import ScannerDevice
from passerelle.drivers.scanner.dates import yymmdd
from passerelle.drivers.scanner.decode import decode_bytes, decode_text
from passerelle.drivers.scanner.framing import SerialFramer
from passerelle.drivers.scanner.gs1 import encode_gs1
from passerelle.drivers.scanner.hid import HidScannerDriver, decode_evdev_stream, keyscan_payload
from passerelle.drivers.scanner.keymaps import LAYOUTS
from passerelle.drivers.scanner.keystream import EV_KEY, EV_SYN, KeyStreamDecoder
from passerelle.drivers.scanner.nir_scrub import find_nirs
from passerelle.drivers.scanner.payload import Problem, ScanPayload
from passerelle.simulators.scanner.hid_sim import HidScannerSimulator
from passerelle.simulators.scanner.keyboard import Typist, pack

from .conftest import started

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
TODAY = date.today()


@st.composite
def gtins(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=13, max_size=13))
    return body + str(gs1_check_digit(body))


@st.composite
def yymmdds(draw: st.DrawFn, first_day: int = 0) -> str:
    """Day 00 ("end of month") is allowed in 11/17 but not in 7003 (``first_day=1``)."""
    yy = draw(st.integers(0, 99))
    mm = draw(st.integers(1, 12))
    dd = draw(st.integers(first_day, 28))
    return f"{yy:02d}{mm:02d}{dd:02d}"


def x_values(max_size: int) -> st.SearchStrategy[str]:
    return st.text(CSET82, min_size=1, max_size=max_size)


AI_VALUES: dict[str, st.SearchStrategy[str]] = {
    "01": gtins(),
    "11": yymmdds(),
    "17": yymmdds(),
    "10": x_values(20),
    "21": x_values(20),
    "240": x_values(30),
    "30": st.text("0123456789", min_size=1, max_size=8),
    "7003": st.builds(
        lambda d, h, m: f"{d}{h:02d}{m:02d}", yymmdds(first_day=1), st.integers(0, 23), st.integers(0, 59)
    ),
}


@st.composite
def element_lists(draw: st.DrawFn) -> list[tuple[str, str]]:
    # Every other AI here requires a GTIN (01) in the same message (GS1 pairing rules).
    others = draw(st.lists(st.sampled_from(sorted(set(AI_VALUES) - {"01"})), max_size=4, unique=True))
    ais = draw(st.permutations(["01", *others]))
    elements = [(ai, draw(AI_VALUES[ai])) for ai in ais]
    # A lot or serial that happens to be NIR-shaped is (rightly) masked: tests/scanner/test_nir.py.
    assume(not any(find_nirs(value) for ai, value in elements if ai not in ("01", "11", "17")))
    return elements


def _check_round_trip(payload: ScanPayload, elements: list[tuple[str, str]], message: str) -> None:
    assert payload.raw == message
    assert payload.kind == "gs1"
    assert [(e.ai, e.value) for e in payload.elements or []] == elements
    # Only the missing-GS heuristic may (rightly, "suspected") fire on a lot that holds AI-like text.
    assert set(payload.problems) <= {Problem.MISSING_SEPARATOR_SUSPECTED}
    values = dict(elements)
    assert payload.gtin == values.get("01")
    assert payload.lot == values.get("10")
    assert payload.serial == values.get("21")
    if "17" in values:
        assert payload.expiry == yymmdd(values["17"], TODAY)


@settings(max_examples=150, deadline=None)
@given(
    elements=element_lists(), layout=st.sampled_from(["us", "fr"]), gs_mode=st.sampled_from(["ctrl", "alt"])
)
def test_gs1_round_trip_through_the_key_stream(
    elements: list[tuple[str, str]], layout: str, gs_mode: str
) -> None:
    message = "]d2" + encode_gs1(elements)
    stream = pack(Typist(LAYOUTS[layout], gs_mode=gs_mode).type(message))  # type: ignore[arg-type]
    payloads = decode_evdev_stream(stream, layout)
    assert len(payloads) == 1
    _check_round_trip(payloads[0], elements, message)


async def _through_driver(batch: list[tuple[str, str, list[tuple[str, str]]]]) -> list[ScanPayload]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (layout, message, _) in enumerate(batch):
            sim = HidScannerSimulator(Path(tmp) / f"ev{i}", layout=layout)
            sim.create()
            driver = HidScannerDriver(
                ScannerDevice.model_validate(
                    {"id": "prop", "driver": "hid", "path": str(sim.path), "layout": layout}
                )
            )
            stream = await started(driver)
            try:
                await stream.state(DeviceState.ONLINE)
                await sim.connect()
                await sim.scan(message, realtime=False)
                out.append(await stream.scan())
            finally:
                await stream.close()
                sim.close()
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(elements=element_lists(), layout=st.sampled_from(["us", "fr"]))
def test_gs1_round_trip_through_hid_simulator_fifo_and_driver(
    elements: list[tuple[str, str]], layout: str
) -> None:
    message = "]d2" + encode_gs1(elements)
    (payload,) = asyncio.run(_through_driver([(layout, message, elements)]))
    _check_round_trip(payload, elements, message)


@settings(max_examples=200, deadline=None)
@given(
    chunks=st.lists(st.binary(max_size=300), max_size=8),
    terminator=st.sampled_from(["cr", "crlf", "tab", "none"]),
)
def test_random_serial_bytes_give_typed_payloads(chunks: list[bytes], terminator: str) -> None:
    framer = SerialFramer(terminator, max_length=256)
    frames = [frame for chunk in chunks for frame in framer.feed(chunk)]
    tail = framer.flush()
    for data, problems in frames + ([tail] if tail else []):
        payload = decode_bytes(data, problems=problems)
        assert all(isinstance(p, Problem) for p in payload.problems)
        assert payload.valid == (not (set(payload.problems) - {Problem.TERMINATOR_MISSING}))
        ScanPayload.model_validate_json(payload.model_dump_json())


key_events = st.tuples(
    st.floats(0, 0.5),
    st.sampled_from([EV_KEY, EV_KEY, EV_KEY, EV_SYN, 4]),
    st.integers(0, 130),
    st.sampled_from([0, 1, 1, 2]),
)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(key_events, max_size=120), layout=st.sampled_from(["us", "fr"]))
def test_random_key_streams_never_crash(events: list[tuple[float, int, int, int]], layout: str) -> None:
    decoder = KeyStreamDecoder(LAYOUTS[layout], min_length=1)
    now = 1_700_000_000.0
    scans = []
    for gap, ev_type, code, value in events:
        now += gap
        scans += decoder.feed_event(now, ev_type, code, value)
    tail = decoder.flush()
    for scan in scans + ([tail] if tail else []):
        payload = keyscan_payload(scan)
        assert all(isinstance(p, Problem) for p in payload.problems)


@settings(max_examples=100, deadline=None)
@given(noise=st.binary(max_size=2000))
def test_random_bytes_as_input_events_never_crash(noise: bytes) -> None:
    for payload in decode_evdev_stream(noise, "fr", min_length=1):
        assert isinstance(payload, ScanPayload)
    assert decode_text(noise.decode("latin-1")).kind


async def _serial_round(blob: bytes) -> tuple[list[ScanPayload], int]:
    from passerelle.daemon.driver import DeviceState
    from passerelle.drivers.scanner.serial_port import SerialScannerDriver
    from passerelle.simulators.scanner.serial_sim import SerialScannerSimulator

    expected = len(SerialFramer("cr").feed(blob + b"\r"))
    with tempfile.TemporaryDirectory() as tmp, SerialScannerSimulator(Path(tmp) / "tty") as sim:
        driver = SerialScannerDriver(ScannerDevice(id="noise", driver="serial", path=str(sim.link)))
        stream = await started(driver)
        try:
            await stream.state(DeviceState.ONLINE)
            await sim.scan(blob, terminator=b"\r")
            await sim.scan("3400930000236")  # the driver is still alive and in sync afterwards
            got = [await stream.scan() for _ in range(expected + 1)]
        finally:
            await stream.close()
    return got, expected


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blob=st.binary(min_size=1, max_size=1500))
def test_random_bytes_through_the_real_serial_driver(blob: bytes) -> None:
    payloads, expected = asyncio.run(_serial_round(blob))
    assert len(payloads) == expected + 1
    assert all(all(isinstance(p, Problem) for p in payload.problems) for payload in payloads)
    assert payloads[-1].kind == "cip13"
