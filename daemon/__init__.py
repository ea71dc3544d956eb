"""Passerelle: counter hardware as durable, versioned MQTT events."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("passerelle")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"
