"""The topic layout (documented in docs/mqtt.md and docs/asyncapi.yaml).

Topics carry only the configured base, device ids and fixed words: never a barcode, card or patient
value.
"""

from __future__ import annotations

from dataclasses import dataclass

# Device ids may not shadow these first levels under the base topic.
RESERVED_LEVELS = frozenset({"bridge"})


@dataclass(frozen=True, slots=True)
class Topics:
    base: str

    @property
    def state(self) -> str:
        return f"{self.base}/bridge/state"

    @property
    def info(self) -> str:
        return f"{self.base}/bridge/info"

    @property
    def devices(self) -> str:
        return f"{self.base}/bridge/devices"

    @property
    def health(self) -> str:
        return f"{self.base}/bridge/health"

    @property
    def loss(self) -> str:
        return f"{self.base}/bridge/loss"

    @property
    def requests(self) -> str:
        return f"{self.base}/bridge/request/+"

    def response(self, command: str) -> str:
        return f"{self.base}/bridge/response/{command}"

    def command_of(self, request_topic: str) -> str | None:
        prefix = f"{self.base}/bridge/request/"
        return request_topic[len(prefix) :] if request_topic.startswith(prefix) else None

    def channel(self, name: str) -> str:
        """Event topic of a family channel, e.g. ``<base>/scan``."""
        return f"{self.base}/{name}"

    def availability(self, device_id: str) -> str:
        return f"{self.base}/{device_id}/availability"

    def device_state(self, device_id: str, leaf: str) -> str:
        return f"{self.base}/{device_id}/{leaf}"
