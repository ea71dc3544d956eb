"""A simulated thermometer: appends readings to the file the driver reads, as the real sensor would."""

from __future__ import annotations

from pathlib import Path


class ThermometerSimulator:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.touch()

    def read(self, celsius: float) -> None:
        with self.path.open("a") as file:
            file.write(f"{celsius}\n")
