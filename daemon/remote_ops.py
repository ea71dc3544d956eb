"""Remote operations over the station's own request topics: ``config``, ``doctor``, ``log-level``,
``restart`` and ``support-bundle``. Each does one fixed thing with validated arguments; nothing here
runs a command a requester chose (no remote shell), and nothing returns a secret or a NIR.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from passerelle.daemon.config import LoadedConfig, file_problems, settings_class
from passerelle.daemon.doctor import checks_for
from passerelle.daemon.driver import RequestError, RequestHandler
from passerelle.daemon.family import Family, FamilyLoadError
from passerelle.daemon.log_ring import LogRing
from passerelle.daemon.publisher import PublisherStats
from passerelle.daemon.redact import without_secrets
from passerelle.daemon.support_bundle import build_bundle, build_document

log = logging.getLogger(__name__)
EX_TEMPFAIL = 75  # sysexits.h: the unit's Restart=on-failure starts the daemon again
RESTART_DELAY_SECONDS = 0.3  # lets the answer go out before the graceful stop begins
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
DEFAULT_LEVEL_SECONDS = 600.0
MAX_LEVEL_SECONDS = 24 * 3600.0
DEFAULT_ANSWER_LIMIT = 256 * 1024  # a support bundle's answer when mqtt.max_payload_bytes is unset


Report = Callable[[], dict[str, Any]]


class RemoteOps:
    def __init__(
        self,
        *,
        config: LoadedConfig,
        families: Mapping[str, Family],
        family_errors: Sequence[FamilyLoadError],
        broker: PublisherStats,
        health: Report,
        info: Report,
        request_stop: Callable[[int], None],
    ) -> None:
        self._config = config
        self._settings = config.settings
        self._families = families
        self._family_errors = family_errors
        self._broker = broker  # its Maximum Packet Size bounds a support bundle's answer
        self._health = health
        self._info = info
        self._request_stop = request_stop  # ends the daemon's run with this exit code
        self.ring = LogRing()
        self._level_revert: asyncio.TimerHandle | None = None
        self._configured_level = config.settings.logging.level

    def handlers(self) -> dict[str, RequestHandler]:
        return {
            "config": self.config,
            "doctor": self.doctor,
            "log-level": self.log_level,
            "restart": self.restart,
            "support-bundle": self.support_bundle,
        }

    def close(self) -> None:
        if self._level_revert is not None:
            self._level_revert.cancel()
            self._revert_level()
        self.ring.remove()

    # -- config and doctor -----------------------------------------------------------------------

    def effective_config(self) -> dict[str, Any]:
        """The configuration in force, every default filled in, secrets masked."""
        dumped: dict[str, Any] = self._settings.model_dump(mode="json")
        for name, section in self._config.sections.items():
            dumped[name] = section.model_dump(mode="json")
        return {
            "source": str(self._config.source) if self._config.source else None,
            "settings": without_secrets(dumped),
            "disabled_sections": self._config.section_problems,
        }

    async def config(self, _: Mapping[str, Any]) -> Any:
        families = self._families
        schema = settings_class(families.values()).model_json_schema()
        sections = {name: f.section_model.model_json_schema() for name, f in families.items()}
        return {**self.effective_config(), "schema": schema, "section_schemas": sections}

    async def doctor_checks(self) -> list[dict[str, Any]]:
        config = self._config
        problems = file_problems(config.settings) + [
            line for lines in config.section_problems.values() for line in lines
        ]
        checks = await asyncio.to_thread(
            checks_for, config, problems, self._families, list(self._family_errors)
        )
        return [dataclasses.asdict(check) for check in checks]

    async def doctor(self, _: Mapping[str, Any]) -> Any:
        checks = await self.doctor_checks()
        return {"ok": all(c["ok"] for c in checks), "checks": checks}

    # -- log level -------------------------------------------------------------------------------

    async def log_level(self, body: Mapping[str, Any]) -> Any:
        level = body.get("level")
        if level not in LEVELS:
            raise RequestError("invalid_argument", f"level must be one of {', '.join(LEVELS)}")
        seconds = body.get("duration_seconds", DEFAULT_LEVEL_SECONDS)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise RequestError("invalid_argument", "duration_seconds must be a number")
        if not 1 <= seconds <= MAX_LEVEL_SECONDS:
            raise RequestError("invalid_argument", f"duration_seconds must be 1 to {MAX_LEVEL_SECONDS:.0f}")
        if self._level_revert is not None:
            self._level_revert.cancel()  # the latest request sets the end; the revert target stays
        root = logging.getLogger()
        previous = logging.getLevelName(root.level)
        root.setLevel(level)
        self._level_revert = asyncio.get_running_loop().call_later(seconds, self._revert_level)
        log.warning("log level set to %s for %.0f s by request (was %s)", level, seconds, previous)
        return {
            "level": level,
            "previous": previous,
            "reverts_to": self._configured_level,
            "reverts_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds)),
        }

    def _revert_level(self) -> None:
        self._level_revert = None
        logging.getLogger().setLevel(self._configured_level)
        log.warning("log level back to %s", self._configured_level)

    # -- restart ---------------------------------------------------------------------------------

    async def restart(self, _: Mapping[str, Any]) -> Any:
        """A clean stop (drivers stopped, outbox kept) that exits with 75: systemd's Restart=on-failure
        starts the service again. Without a supervisor the daemon simply stops."""
        log.warning("restart requested over MQTT: stopping with exit status %d", EX_TEMPFAIL)
        asyncio.get_running_loop().call_later(RESTART_DELAY_SECONDS, self._request_stop, EX_TEMPFAIL)
        return {"restarting": True, "exit_status": EX_TEMPFAIL}

    # -- support bundle --------------------------------------------------------------------------

    def payload_limit(self) -> int:
        """The largest answer to publish: mqtt.max_payload_bytes (or 256 KiB), less if the broker said so."""
        settings = self._settings.mqtt.max_payload_bytes or DEFAULT_ANSWER_LIMIT
        broker = self._broker.broker_maximum_packet_size
        return min(settings, broker) if broker else settings

    async def bundle_contents(self) -> dict[str, Any]:
        return {
            "station": self._settings.station,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "config": self.effective_config(),
            "health": self._health(),
            "info": self._info(),
            "doctor": await self.doctor_checks(),
        }

    async def support_bundle(self, _: Mapping[str, Any]) -> Any:
        return build_bundle(await self.bundle_contents(), self.ring.snapshot(), self.payload_limit())

    async def support_document(self) -> dict[str, Any]:
        """The same bundle as plain JSON, whole: what the web console offers for download."""
        return build_document(await self.bundle_contents(), self.ring.snapshot())

    async def web_support(self, kind: str) -> Any:
        """The web console's support data: the same checks and bundle as the MQTT requests."""
        if kind == "doctor":
            return await self.doctor_checks()
        return await self.support_document()
