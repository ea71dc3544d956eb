"""The core's own bridge commands, and the drivers' commands looked up at each request. The routing
itself (parsing, refusals, the typed answer) is daemon/requests.py's ``BridgeCommands``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from passerelle.daemon import __version__
from passerelle.daemon.driver import Driver, RequestHandler
from passerelle.daemon.inventory import Inventory
from passerelle.daemon.outbox import Outbox
from passerelle.daemon.outbox_admin import request_handler as outbox_request
from passerelle.daemon.quarantine import QuarantineStore

Report = Callable[[], dict[str, Any]]


def core_handlers(
    *, info: Report, health: Report, inventory: Inventory, outbox: Outbox, quarantine: QuarantineStore
) -> dict[str, RequestHandler]:
    """``ping``, ``info``, ``devices``, ``health``, ``outbox`` and ``outbox-damage-ack``."""

    async def ping(_: Mapping[str, Any]) -> Any:
        return {"pong": True, "version": __version__}

    async def info_request(_: Mapping[str, Any]) -> Any:
        return info()

    async def devices(_: Mapping[str, Any]) -> Any:
        return inventory.snapshot()

    async def health_request(_: Mapping[str, Any]) -> Any:
        return health()

    async def damage_ack(_: Mapping[str, Any]) -> Any:
        return {"acknowledged": await outbox.acknowledge_damage()}

    return {
        "ping": ping,
        "info": info_request,
        "devices": devices,
        "health": health_request,
        "outbox": outbox_request(quarantine),
        "outbox-damage-ack": damage_ack,
    }


def driver_handlers(drivers: Sequence[Driver]) -> Callable[[], dict[str, RequestHandler]]:
    """The lookup of the drivers' own commands; a driver whose handlers fail to list offers none."""

    def lookup() -> dict[str, RequestHandler]:
        handlers: dict[str, RequestHandler] = {}
        for driver in drivers:
            with contextlib.suppress(Exception):
                handlers.update(driver.request_handlers())
        return handlers

    return lookup
