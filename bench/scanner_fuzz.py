"""Totality fuzz of the scanner decoder: every input must give a payload, none a decoder error.

    .venv/bin/python -m bench.scanner_fuzz [--count 1000000] [--seed 2026] [--workers 2]

Prints one JSON line (count, decoder errors, exceptions, seconds) and exits 1 when any input raised
or gave ``decoder_error``. The test suite runs it in a subprocess with one million inputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date

from passerelle.drivers.scanner.decode import decode_text
from passerelle.drivers.scanner.payload import Problem, ScanPayload
from passerelle.simulators.scanner.fuzz import fuzz_inputs

TODAY = date(2026, 6, 1)  # fixed: the same inputs take the same paths on any day


@dataclass
class FuzzResult:
    count: int = 0
    decoder_errors: int = 0
    exceptions: int = 0
    first_failures: list[str] = field(default_factory=list)  # repr of the first few failing inputs


def fuzz_chunk(seed: int, count: int) -> FuzzResult:
    result = FuzzResult()
    for text in fuzz_inputs(seed, count):
        result.count += 1
        try:
            payload = decode_text(text, today=TODAY)
        except Exception:  # the decoder promises never to raise: count it, keep going
            result.exceptions += 1
            failed = True
        else:
            failed = not isinstance(payload, ScanPayload) or Problem.DECODER_ERROR in payload.problems
            result.decoder_errors += failed
        if failed and len(result.first_failures) < 5:
            result.first_failures.append(repr(text))
    return result


def run(count: int, seed: int, workers: int) -> FuzzResult:
    chunks = max(workers, 1) * 4
    sizes = [count // chunks + (1 if i < count % chunks else 0) for i in range(chunks)]
    total = FuzzResult()
    with ProcessPoolExecutor(max_workers=max(workers, 1)) as pool:
        # Each chunk has its own seed derived from the run's seed: the whole run is reproducible.
        for part in pool.map(fuzz_chunk, [seed * 1000 + i for i in range(chunks)], sizes):
            total.count += part.count
            total.decoder_errors += part.decoder_errors
            total.exceptions += part.exceptions
            total.first_failures += part.first_failures[: 5 - len(total.first_failures)]
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = run(args.count, args.seed, args.workers)
    print(json.dumps(asdict(result) | {"seconds": round(time.monotonic() - started, 1)}))
    return 1 if result.decoder_errors or result.exceptions else 0


if __name__ == "__main__":
    sys.exit(main())
