"""The most recent log records, kept in memory for ``support-bundle``: bounded in count and in size,
and scrubbed of NIR-shaped numbers as they are recorded, so the ring never holds one."""

from __future__ import annotations

import collections
import logging
import time
from typing import Any

from passerelle.daemon.redact import scrub_nir

RING_RECORDS = 1000
MESSAGE_CHARS = 2000  # a record longer than this is cut: the ring stays within about 2 MB


class LogRing(logging.Handler):
    def __init__(self, capacity: int = RING_RECORDS) -> None:
        super().__init__(logging.DEBUG)
        self.records: collections.deque[dict[str, Any]] = collections.deque(maxlen=capacity)
        self.formatter_for_exceptions = logging.Formatter()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry: dict[str, Any] = {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                + f".{int(record.msecs):03d}Z",
                "level": record.levelname,
                "logger": record.name,
                "message": scrub_nir(record.getMessage()[:MESSAGE_CHARS]),
            }
            if record.exc_info:
                trace = self.formatter_for_exceptions.formatException(record.exc_info)
                entry["exception"] = scrub_nir(trace[-MESSAGE_CHARS:])
            self.records.append(entry)
        except Exception:  # logging must never raise into the code that logs
            self.handleError(record)

    def snapshot(self) -> list[dict[str, Any]]:
        return list(self.records)

    def install(self) -> None:
        logging.getLogger().addHandler(self)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)
