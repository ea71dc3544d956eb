"""Configuration: a TOML file plus ``PASSERELLE_…`` environment overrides (nested with ``__``).

The core sections are typed here. Each device family adds one section, typed by the family's own model
and validated separately, so that a mistake in one family's section disables that family (with the
reason in health and the inventory) instead of stopping the daemon; ``passerelle config check`` still
reports it.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from passerelle.daemon.config_checks import (
    EnvValueError,
    JsonCheckedEnvSource,
    device_id_problems,
    env_value_problem,
    password_file_problems,
    problem_line,
    tls_problems,
    unavailable_families,
    unknown_section_problems,
)
from passerelle.daemon.family import Family, FamilySection
from passerelle.daemon.servers import Server, parse_servers
from passerelle.daemon.web.settings import WebSettings

DEFAULT_CONFIG_PATH = Path("/etc/passerelle/config.toml")
DEFAULT_STATE_DIR = Path("/var/lib/passerelle")
EX_CONFIG = 78  # sysexits.h; the unit has RestartPreventExitStatus=78
TOPIC_LEVEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class ConfigError(Exception):
    """Configuration problems, one ``dotted.path: message`` line each (never the offending value)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def default_station() -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", socket.gethostname().lower()).strip("-")
    return slug[:63] or "station"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TlsSettings(Strict):
    enabled: bool = Field(False, description="connect with TLS (usually port 8883)")
    ca_file: Path | None = Field(None, description="CA bundle; system CAs when unset")
    cert_file: Path | None = Field(None, description="client certificate (mutual TLS)")
    key_file: Path | None = Field(None, description="private key of the client certificate")
    verify: bool = Field(True, description="verify the broker certificate; disabling logs a warning")


class MqttSettings(Strict):
    host: str = Field("127.0.0.1", description="broker host name or address")
    port: int = Field(1883, ge=1, le=65535, description="broker port")
    servers: list[str] | None = Field(
        None,
        description="equivalent brokers (cluster nodes) as host:port, [v6]:port or host (mqtt.port); "
        "the first that answers is used, the next on failure; default: host and port",
    )
    protocol: Literal["5", "3.1.1"] = Field("5", description="MQTT protocol version")
    client_id: str | None = Field(None, description="default: passerelle-<station>")
    base_topic: str | None = Field(None, description="default: passerelle/<station>")
    username: str | None = Field(None, description="broker user name")
    password: SecretStr | None = Field(None, description="broker password (never logged or published)")
    password_file: Path | None = Field(
        None, description="file holding the broker password (mode 0600), read at each connection"
    )
    keepalive: int = Field(30, ge=5, le=3600, description="seconds; the broker sends the Will after 1.5x")
    max_inflight: int = Field(
        100,
        ge=1,
        le=65535,
        description="QoS 1 publishes awaiting PUBACK at once (at most the broker's MQTT 5 Receive Maximum)",
    )
    max_payload_bytes: int | None = Field(
        None,
        ge=4096,
        le=268_435_455,
        description="largest message the broker takes (e.g. Mosquitto's message_size_limit, NATS's "
        "max_payload): larger events are refused to their driver and request answers (support-bundle) are "
        "cut to fit; unset, answers stay under 256 KiB. The broker's MQTT 5 Maximum Packet Size applies too",
    )
    quarantine_after: int = Field(
        3,
        ge=2,
        le=100,
        description="tries before an event the broker refuses (or drops the connection on) is set aside "
        "in the outbox quarantine, so that the events behind it flow; the last try waits until the broker "
        "took another event",
    )
    reconnect_min_seconds: float = Field(0.5, gt=0, description="first reconnection delay (jittered)")
    reconnect_max_seconds: float = Field(
        30.0,
        gt=0,
        validate_default=True,  # so that a minimum set above the default maximum is caught
        description="cap of the exponential reconnection delay",
    )
    tls: TlsSettings = TlsSettings()

    @field_validator("reconnect_max_seconds")
    @classmethod
    def _max_not_below_min(cls, value: float, info: ValidationInfo) -> float:
        minimum = info.data.get("reconnect_min_seconds")  # absent when it was itself invalid
        if minimum is not None and value < minimum:
            raise ValueError("must not be below mqtt.reconnect_min_seconds")
        return value

    @field_validator("servers")
    @classmethod
    def _servers_parse(cls, value: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if value is not None:
            parse_servers(value, info.data.get("port", 1883))
        return value

    @field_validator("password_file")
    @classmethod
    def _one_password_source(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None and info.data.get("password") is not None:
            raise ValueError("set mqtt.password or mqtt.password_file, not both")
        return value

    def server_list(self) -> list[Server]:
        """The servers to rotate over, in order (validated above)."""
        if self.servers is None:
            return [Server(self.host, self.port)]
        return parse_servers(self.servers, self.port)

    @field_validator("base_topic")
    @classmethod
    def _topic_shape(cls, value: str | None) -> str | None:
        if value is not None and (
            not value or value.startswith("/") or value.endswith("/") or any(c in value for c in "#+")
        ):
            raise ValueError("must be a topic without wildcards and without a leading or trailing '/'")
        return value


class OutboxSettings(Strict):
    path: Path | None = Field(None, description="default: <state_directory>/outbox.sqlite3")
    max_events: int = Field(1_000_000, ge=100, description="bound on stored, unpublished events")
    max_bytes: int = Field(1 << 30, ge=1 << 20, description="bound on their size in bytes")
    when_full: Literal["refuse", "drop_oldest"] = Field(
        "refuse",
        description="refuse: new events are refused (drivers are told); drop_oldest: oldest are discarded "
        "and a loss event says which",
    )


class MetricsSettings(Strict):
    enabled: bool = Field(True, description="serve Prometheus metrics")
    address: str = Field("127.0.0.1", description="listen address; keep it local on a patient workstation")
    port: int = Field(9723, ge=0, le=65535, description="listen port (0: any free port)")


class LoggingSettings(Strict):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="log level")
    format: Literal["auto", "human", "json"] = Field(
        "auto", description="auto: human on a terminal, else json"
    )


class CoreSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSERELLE_", env_nested_delimiter="__", extra="forbid")

    station: str = Field(
        default_factory=default_station,
        description="workstation id used in topics ([a-z0-9-]); default: the host name, sanitized",
    )
    state_directory: Path = Field(
        default_factory=lambda: Path(os.environ.get("STATE_DIRECTORY", str(DEFAULT_STATE_DIR)).split(":")[0]),
        description="outbox and import ledgers; default: $STATE_DIRECTORY, else /var/lib/passerelle",
    )
    mqtt: MqttSettings = MqttSettings()
    outbox: OutboxSettings = OutboxSettings()
    metrics: MetricsSettings = MetricsSettings()
    logging: LoggingSettings = LoggingSettings()
    web: WebSettings = WebSettings()

    @field_validator("station")
    @classmethod
    def _station_is_topic_level(cls, value: str) -> str:
        if not TOPIC_LEVEL.match(value):
            raise ValueError("must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
        return value

    @property
    def base_topic(self) -> str:
        return self.mqtt.base_topic or f"passerelle/{self.station}"

    @property
    def client_id(self) -> str:
        return self.mqtt.client_id or f"passerelle-{self.station}"

    @property
    def outbox_path(self) -> Path:
        return self.outbox.path or self.state_directory / "outbox.sqlite3"

    def family_section(self, name: str) -> dict[str, Any]:
        raw = getattr(self, name, None)
        return dict(raw) if isinstance(raw, Mapping) else {}

    def summary(self) -> dict[str, Any]:
        """What ``bridge/info`` shows: no secrets, no file contents."""
        return {
            "station": self.station,
            "mqtt": {
                "host": self.mqtt.host,
                "port": self.mqtt.port,
                "servers": [str(server) for server in self.mqtt.server_list()],
                "protocol": self.mqtt.protocol,
                "tls": self.mqtt.tls.enabled,
                "tls_verify": self.mqtt.tls.verify,
                "authenticated": self.mqtt.username is not None,
            },
            "outbox": {
                "max_events": self.outbox.max_events,
                "max_bytes": self.outbox.max_bytes,
                "when_full": self.outbox.when_full,
            },
            "web": {"enabled": self.web.enabled, "host": self.web.host, "port": self.web.port},
        }


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    settings: CoreSettings
    sections: dict[str, FamilySection]  # valid family sections
    section_problems: dict[str, list[str]]  # family -> problems (that family is disabled)
    source: Path | None


def resolve_config_path(explicit: Path | None) -> tuple[Path | None, bool]:
    """Which file to read, and whether it must exist (a file the user named must)."""
    if explicit is not None:
        return explicit, True
    config_dir = os.environ.get("CONFIGURATION_DIRECTORY")
    if config_dir:
        return Path(config_dir.split(":")[0]) / "config.toml", False
    return DEFAULT_CONFIG_PATH, False


def settings_class(families: Iterable[Family], unavailable: Iterable[str] = ()) -> type[CoreSettings]:
    """CoreSettings plus one raw section per family (validated later by the family's own model), and
    per ``unavailable`` family (installed but not loadable: its section is kept, the family disabled)."""
    names = [f.name for f in families] + list(unavailable)
    fields: dict[str, Any] = {name: (dict[str, Any], Field(default_factory=dict)) for name in names}
    return create_model("Settings", __base__=CoreSettings, **fields)


def format_problems(error: ValidationError, prefix: str = "") -> list[str]:
    return [problem_line(item, prefix) for item in error.errors()]


def load_config(
    path: Path | None, families: Mapping[str, Family], overrides: Mapping[str, Any] | None = None
) -> LoadedConfig:
    """Read, validate and split the configuration. Raises ConfigError for core problems only.

    ``overrides`` (used by the demo) take precedence over the environment and the file."""
    config_path, must_exist = resolve_config_path(path)
    if config_path is not None and not config_path.exists():
        if must_exist:
            raise ConfigError([f"config: file {config_path} does not exist"])
        config_path = None
    if config_path is not None:
        _check_toml(config_path)  # parse once here for a clear message; the source re-reads it

    base = settings_class(families.values(), unavailable_families(families))
    toml_file = config_path

    class Settings(base):  # type: ignore[valid-type,misc]
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            sources: list[PydanticBaseSettingsSource] = [init_settings, JsonCheckedEnvSource(settings_cls)]
            if toml_file is not None:
                sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
            return tuple(sources)

    try:
        settings: CoreSettings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(unknown_section_problems(exc, families)) from exc
    except SettingsError as exc:
        if isinstance(exc.__cause__, EnvValueError):
            env = CoreSettings.model_config
            problem = env_value_problem(
                exc.__cause__.field_name, str(env.get("env_prefix")), str(env.get("env_nested_delimiter"))
            )
            raise ConfigError([problem]) from exc
        raise ConfigError([f"config: {exc}"]) from exc

    sections: dict[str, FamilySection] = {}
    problems: dict[str, list[str]] = {}
    for name, family in families.items():
        try:
            sections[name] = family.section_model.model_validate(settings.family_section(name))
        except ValidationError as exc:
            problems[name] = format_problems(exc, prefix=f"{name}.")
    contradictions = device_id_problems(sections, families) + settings.web.problems()
    if contradictions:
        raise ConfigError(contradictions + [line for lines in problems.values() for line in lines])
    return LoadedConfig(settings=settings, sections=sections, section_problems=problems, source=config_path)


def check_config(path: Path | None, families: Mapping[str, Family]) -> list[str]:
    """Every problem, core and family, as ``dotted.path: message`` lines; empty when valid."""
    try:
        loaded = load_config(path, families)
    except ConfigError as exc:
        return exc.problems
    family_lines = [line for lines in loaded.section_problems.values() for line in lines]
    broken = [
        f'{name}: device family "{name}" is installed but cannot be loaded ({reason}); it is disabled'
        for name, reason in unavailable_families(families).items()
        if loaded.settings.family_section(name)
    ]
    return file_problems(loaded.settings) + family_lines + broken


def file_problems(settings: CoreSettings) -> list[str]:
    """Files named by the core settings that this machine cannot use (checked apart from
    ``load_config``, which validates a configuration wherever it is read, e.g. the documented example)."""
    return tls_problems(settings.mqtt.tls) + password_file_problems(settings.mqtt.password_file)


def _check_toml(path: Path) -> None:
    """A file that is not TOML, not UTF-8 (TOML must be) or not readable is one clear problem line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"config: cannot read {path} ({exc.strerror})"]) from exc
    try:
        tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        message = f"config: {path} is not UTF-8 text (invalid byte at offset {exc.start}); TOML must be UTF-8"
        raise ConfigError([message]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"config: {path} is not valid TOML ({exc})"]) from exc
