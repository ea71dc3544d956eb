"""Decode time per scan for typical codes and for 10 kB inputs, and the lost-separator rates.

    .venv/bin/python -m bench.scan_decode [--repeat 2000]

Decoding must stay linear in the input's length: for each 10 kB input the bench also times the
same shape at 1 kB and prints the ratio (about 10 when linear, about 100 when quadratic).
Target: p99 well under a millisecond for typical codes.
"""

from __future__ import annotations

import argparse
import time
from datetime import date

from bench.scanner_latency import percentile
from passerelle.drivers.scanner.checks import hibc_check_character
from passerelle.drivers.scanner.decode import decode_text
from passerelle.simulators.scanner import separator_samples as samples

TODAY = date(2026, 11, 24)
GS = "\x1d"
GTIN = "03400930000236"
_HIBC = "+A123BJC5D6E71/$$52001510X3"

TYPICAL = {
    "medicine DataMatrix": f"]d201{GTIN}17270331102AB1{GS}21XYZ98765ABCD",
    "same, GS stripped": f"]d201{GTIN}17270331102AB121XYZ98765ABCD",
    "bracketed HRI": f"(01){GTIN}(17)270331(10)2AB1(21)XYZ98765",
    "EAN-13 (CIP13)": "]E03400930000236",
    "digital link": f"]Q1https://id.gs1.org/01/{GTIN}/10/2AB1?17=270331",
    "HIBC": _HIBC + (hibc_check_character(_HIBC) or ""),
    "e-prescription token": "]Q11A2B3C4D5E6F7G8H9J0K",
}


def _large(size: int) -> dict[str, str]:
    """Hostile or broken inputs of about ``size`` characters."""
    return {
        "lot run-on (no GS)": f"]d201{GTIN}10" + "A21B" * (size // 4),
        "repeated fields": "]d2" + f"01{GTIN}10AB{GS}" * (size // 21),
        "digits only": "]d2" + "1" * size,
        "bracketed HRI": f"(01){GTIN}" + "(10)AB" * (size // 6),
        "long URL": "https://id.gs1.org/01/" + GTIN + "/10/" + "A" * size,
        "plain text": "X" * size,
    }


def _times(text: str, repeat: int) -> tuple[list[float], list[float]]:
    """(wall times, CPU times of this thread). On a shared machine the wall-clock tail also holds
    the time other processes had the CPU; the CPU time is what decoding itself cost."""
    wall, cpu = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.thread_time()
        decode_text(text, today=TODAY)
        cpu.append(time.thread_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return wall, cpu


def _rates() -> None:
    print(f"\nmissing_separator_suspected on seeded samples (n={samples.SAMPLE} each)")
    for name in samples.SAMPLES:
        flagged, valid = samples.sample_rate(name)
        print(f"  {name:28s} flagged {flagged:7.2%}   valid {valid:7.2%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2000)
    args = parser.parse_args()
    for text in TYPICAL.values():  # load the AI table and warm caches outside the measurement
        decode_text(text, today=TODAY)
    print(f"typical codes, {args.repeat} decodes each (µs per scan; wall clock, then CPU time)")
    for name, text in TYPICAL.items():
        wall, cpu = _times(text, args.repeat)
        print(
            f"  {name:22s} wall p50 {percentile(wall, 0.5) * 1e6:6.1f} p99 {percentile(wall, 0.99) * 1e6:7.1f}"
            f" | cpu p50 {percentile(cpu, 0.5) * 1e6:6.1f} p99 {percentile(cpu, 0.99) * 1e6:6.1f}"
        )
    print("\nlarge inputs, median CPU ms of 20 decodes (ratio 10 kB / 1 kB: ~10 linear, ~100 quadratic)")
    small, large = _large(1_000), _large(10_000)
    for name in large:
        t_small = percentile(_times(small[name], 20)[1], 0.5)
        t_large = percentile(_times(large[name], 20)[1], 0.5)
        print(
            f"  {name:20s} 1 kB {t_small * 1e3:7.3f}  10 kB {t_large * 1e3:7.3f}  ratio {t_large / t_small:5.1f}"
        )
    _rates()


if __name__ == "__main__":
    main()
