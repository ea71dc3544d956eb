"""What the console shows beyond the event stream: recent logs, the doctor's results, a support bundle.

The bundle is for a technician on the phone: configuration without secrets, recent logs, the doctor,
versions. Log lines never carry a patient identifier by design; as a second line of defence every long
run of digits (a NIR has 13, 15 with its key) is masked before a line leaves the daemon.
"""

from __future__ import annotations

import collections
import importlib.metadata
import logging
import platform
import re
import time
from pathlib import Path
from typing import Any

from daemon import __version__
from daemon.logs import JsonFormatter

LOG_LINES = 500
LONG_DIGITS = re.compile(r"\d(?:[ .-]?\d){12,}")


def mask_digits(text: str) -> str:
    return LONG_DIGITS.sub("[masked]", text)


class LogRing(logging.Handler):
    """The last ``LOG_LINES`` log records, formatted, for the console and the support bundle."""

    def __init__(self, capacity: int = LOG_LINES) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(mask_digits(self.format(record)))
        except Exception:  # a record that cannot be formatted must not break logging
            self.handleError(record)


def versions() -> dict[str, str]:
    found = {"passerelle": __version__, "python": platform.python_version(), "system": platform.platform()}
    for package in ("aiomqtt", "websockets", "pydantic", "pyscard", "edfio"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def doctor_results(config_path: Path | None) -> list[dict[str, Any]]:
    """The checks of ``passerelle doctor``, run in this process (blocking: call it in a thread)."""
    from daemon.doctor import collect_checks

    return [
        {"name": c.name, "ok": c.ok, "detail": mask_digits(c.detail), "fix": c.fix}
        for c in collect_checks(config_path)
    ]


def bundle(
    *,
    summary: dict[str, Any],
    health: dict[str, Any],
    devices: Any,
    doctor: list[dict[str, Any]],
    logs: list[str],
) -> dict[str, Any]:
    return {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "configuration": summary,
        "health": health,
        "devices": devices,
        "doctor": doctor,
        "logs": logs,
    }
