"""The topic layout: the core's topics declared once (``CORE_TOPICS``), from which ``Topics`` builds the
topic names, and ``passerelle schema --write docs`` the AsyncAPI channels and the topic table of
docs/mqtt.md. A family's topics come from its event declarations (``Family.events``).

Topics carry only the configured base, device ids and fixed words: never a barcode, card or patient
value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CoreTopic:
    """One topic of the core. Published topics are QoS 1; ``retained`` says whether they are retained.
    A ``received`` topic is one the daemon subscribes to (requests), never retained by contract."""

    key: str  # AsyncAPI channel name
    path: str  # under the base topic; ``{device_id}`` and ``{command}`` are parameters
    messages: tuple[str, ...]  # AsyncAPI message names (components/messages)
    retained: bool
    summary: str  # AsyncAPI channel description, after the QoS/retain phrase
    payload: str  # the "payload" cell of the topic table in docs/mqtt.md (markdown)
    received: bool = False
    family_events: bool = False  # also carries every family event (a device's retained state)

    @property
    def description(self) -> str:
        if self.received:
            return self.summary
        phrase = "Retained, QoS 1." if self.retained else "QoS 1, not retained."
        return f"{phrase} {self.summary}".rstrip()


BRIDGE_STATE = CoreTopic(
    "bridgeState",
    "bridge/state",
    ("availability",),
    retained=True,
    summary="online on every connect; offline is the Will.",
    payload='`{"state":"online"}` at every (re)connect; `{"state":"offline"}` before a clean stop and as '
    "the Will",
)
BRIDGE_INFO = CoreTopic(
    "bridgeInfo",
    "bridge/info",
    ("bridgeInfo",),
    retained=True,
    summary="Version, schemas, drivers, config summary.",
    payload="version, schema ids, families, drivers, commands, configuration summary without secrets",
)
BRIDGE_DEVICES = CoreTopic(
    "bridgeDevices",
    "bridge/devices",
    ("bridgeDevices",),
    retained=True,
    summary="Device inventory and disabled drivers.",
    payload='`{"devices":[{id, family, driver, model, interface, state, problem}], '
    '"disabled":[{family, driver, reason}]}`',
)
BRIDGE_HEALTH = CoreTopic(
    "bridgeHealth",
    "bridge/health",
    ("bridgeHealth",),
    retained=True,
    summary="green / yellow / red and why.",
    payload='`{"status":"green"\\|"yellow"\\|"red", "problems":[…], "broker":{…}, "outbox":{…}}`; '
    "`outbox` has `write_error` (the OS reason while the disk refuses writes, else null), `unstored` and "
    "`damage` (incidents not yet acknowledged)",
)
BRIDGE_LOSS = CoreTopic(
    "bridgeLoss",
    "bridge/loss",
    ("passerelle_loss_v1",),
    retained=False,
    summary="Events discarded by the drop_oldest policy.",
    payload="`passerelle.loss/1`: events discarded by the `drop_oldest` policy, not stored because the state "
    "disk refused writes, or found damaged on disk (`data.reason` says which)",
)
BRIDGE_REQUEST = CoreTopic(
    "bridgeRequest",
    "bridge/request/{command}",
    ("request",),
    retained=False,
    summary="Requests to the bridge (never retain them: retained ones are refused).",
    payload='a JSON object, optional `"transaction"`',
    received=True,
)
BRIDGE_RESPONSE = CoreTopic(
    "bridgeResponse",
    "bridge/response/{command}",
    ("response",),
    retained=False,
    summary="Also sent to the MQTT 5 Response Topic when it lies under bridge/response/ (any other is "
    "refused with forbidden_response_topic).",
    payload='`{"status":"ok"\\|"error","data":…,"error":{"code","message"}\\|null,"transaction":…}`',
)
AVAILABILITY = CoreTopic(
    "availability",
    "{device_id}/availability",
    ("availability",),
    retained=True,
    summary="",
    payload='`{"state":"online"\\|"offline"\\|"disabled"}`',
)
DEVICE_STATE = CoreTopic(
    "deviceState",
    "{device_id}/state",
    (),
    retained=True,
    summary="What is true now for a device that has a state (e.g. the card in a reader).",
    payload="the device's current state as an event envelope (e.g. what card is in a slot)",
    family_events=True,
)

CORE_TOPICS = (
    BRIDGE_STATE,
    BRIDGE_INFO,
    BRIDGE_DEVICES,
    BRIDGE_HEALTH,
    BRIDGE_LOSS,
    BRIDGE_REQUEST,
    BRIDGE_RESPONSE,
    AVAILABILITY,
    DEVICE_STATE,
)

# First levels under the base topic that device ids and family names may not take.
RESERVED_LEVELS = frozenset(t.path.split("/")[0] for t in CORE_TOPICS if not t.path.startswith("{"))


@dataclass(frozen=True, slots=True)
class Topics:
    base: str

    def _at(self, topic: CoreTopic, **parameters: str) -> str:
        return f"{self.base}/{topic.path.format(**parameters)}"

    @property
    def state(self) -> str:
        return self._at(BRIDGE_STATE)

    @property
    def info(self) -> str:
        return self._at(BRIDGE_INFO)

    @property
    def devices(self) -> str:
        return self._at(BRIDGE_DEVICES)

    @property
    def health(self) -> str:
        return self._at(BRIDGE_HEALTH)

    @property
    def loss(self) -> str:
        return self._at(BRIDGE_LOSS)

    @property
    def requests(self) -> str:
        return self._at(BRIDGE_REQUEST, command="+")

    def response(self, command: str) -> str:
        return self._at(BRIDGE_RESPONSE, command=command)

    def command_of(self, request_topic: str) -> str | None:
        prefix = self._at(BRIDGE_REQUEST, command="")
        return request_topic[len(prefix) :] if request_topic.startswith(prefix) else None

    def channel(self, name: str) -> str:
        """Event topic of a family channel, e.g. ``<base>/scan``."""
        return f"{self.base}/{name}"

    def availability(self, device_id: str) -> str:
        return self._at(AVAILABILITY, device_id=device_id)

    def device_state(self, device_id: str, leaf: str) -> str:
        """A device's retained state; ``leaf`` is the driver's ``retained_state`` ("state" by custom)."""
        return f"{self.base}/{device_id}/{leaf}"
