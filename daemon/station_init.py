"""``passerelle station init``: set up a workstation in one command.

From a station id, the broker servers, a CA and a user, it writes a configuration that ``config check``
accepts and a credentials file only its owner can read, then tries the connection with them. The
password never appears on the command line (where ``ps`` shows it to every user): it comes from a
prompt, from standard input or from a file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import pwd
import sys
from pathlib import Path

import aiomqtt

from passerelle.daemon.config import (
    EX_CONFIG,
    TOPIC_LEVEL,
    ConfigError,
    TlsSettings,
    file_problems,
    load_config,
)
from passerelle.daemon.config_checks import tls_problems
from passerelle.daemon.family import load_families
from passerelle.daemon.mqtt_options import connection_options, tls_context
from passerelle.daemon.servers import explain_failure, parse_servers

EX_UNAVAILABLE = 69  # sysexits.h: files written, but no server accepted the station
EX_CANTCREAT = 73
SERVICE_USER = "passerelle"  # the systemd unit's User=
CONNECT_TIMEOUT_SECONDS = 5.0


class InitError(Exception):
    def __init__(self, message: str, status: int = EX_CONFIG) -> None:
        super().__init__(message)
        self.status = status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--station", required=True, help="station id ([a-z0-9-], used in topics)")
    parser.add_argument(
        "--server", action="append", required=True, metavar="HOST:PORT", help="a broker node (repeatable)"
    )
    parser.add_argument("--ca", type=Path, default=None, help="CA bundle of the brokers: turns TLS on")
    parser.add_argument("--user", default=None, help="broker user name of this station")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--password-file", type=Path, default=None, help="read the password from FILE")
    source.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    parser.add_argument("--protocol", choices=("5", "3.1.1"), default="5", help="MQTT protocol version")
    parser.add_argument(
        "--config", type=Path, default=Path("/etc/passerelle/config.toml"), help="configuration to write"
    )
    parser.add_argument(
        "--credentials",
        type=Path,
        default=None,
        help="password file to write (default: mqtt-password beside it)",
    )
    parser.add_argument("--owner", default=None, help=f"owner of the password file (as root: {SERVICE_USER})")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    parser.add_argument("--no-connect", action="store_true", help="do not try the connection")


def _toml_string(value: str | Path) -> str:
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a valid TOML basic string


def render_config(args: argparse.Namespace, credentials: Path | None) -> str:
    lines = [
        "# Written by passerelle station init; check with: passerelle config check",
        f"station = {_toml_string(args.station)}",
        "",
        "[mqtt]",
        "servers = [" + ", ".join(_toml_string(s) for s in args.server) + "]",
        f"protocol = {_toml_string(args.protocol)}",
    ]
    if args.ca is not None:
        lines.append("port = 8883  # for servers written without a port")
    if args.user is not None and credentials is not None:
        lines += [f"username = {_toml_string(args.user)}", f"password_file = {_toml_string(credentials)}"]
    if args.ca is not None:
        lines += ["", "[mqtt.tls]", "enabled = true", f"ca_file = {_toml_string(args.ca.resolve())}"]
    return "\n".join(lines) + "\n"


def check_arguments(args: argparse.Namespace) -> None:
    """Everything wrong with the arguments at once, before any file is written."""
    problems = []
    if not TOPIC_LEVEL.match(args.station):
        problems.append("--station: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
    try:
        parse_servers(args.server, 8883 if args.ca else 1883)
    except ValueError as exc:
        problems.append(f"--server: {exc}")
    if args.ca is not None:
        problems += [
            p.replace("mqtt.tls.ca_file", "--ca")
            for p in tls_problems(TlsSettings(enabled=True, ca_file=args.ca))
        ]
    if args.user is None and (args.password_file or args.password_stdin):
        problems.append("--password-file/--password-stdin: a password needs --user")
    if problems:
        raise InitError("\n".join(problems))


def read_password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InitError(f"--password-file: cannot be read ({exc})") from exc
        password = lines[0] if lines else ""
    elif args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"MQTT password for {args.user}: ")
    else:
        raise InitError("no password: use --password-stdin or --password-file (or run in a terminal)")
    if not password:
        raise InitError("the password is empty")
    return password


def _owner(args: argparse.Namespace) -> pwd.struct_passwd | None:
    name = args.owner or (SERVICE_USER if os.geteuid() == 0 else None)
    if name is None:
        return None
    try:
        return pwd.getpwnam(name)
    except KeyError:
        if args.owner is None:
            return None  # no service user yet (not installed from the package): keep root's
        raise InitError(f"--owner: no user {name!r}") from None


def write_credentials(path: Path, password: str, owner: pwd.struct_passwd | None, force: bool) -> None:
    """Created with mode 0600 from the start (never readable by others, not even for a moment)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise InitError(f"{path} exists: use --force to replace it", EX_CANTCREAT) from None
    except OSError as exc:
        raise InitError(f"cannot write {path}: {exc.strerror}", EX_CANTCREAT) from exc
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        os.fchmod(fd, 0o600)  # an existing file replaced with --force keeps its mode otherwise
        if owner is not None:
            os.fchown(fd, owner.pw_uid, owner.pw_gid)
        file.write(password + "\n")


def write_config(path: Path, text: str, force: bool) -> None:
    """Written beside, checked like ``config check``, then moved into place: a bad file never replaces
    a good one."""
    if path.exists() and not force:
        raise InitError(f"{path} exists: use --force to replace it", EX_CANTCREAT)
    candidate = path.with_name(path.name + ".new")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        candidate.write_text(text, encoding="utf-8")
        os.chmod(candidate, 0o644)  # no secret in it: the password is in the credentials file
    except OSError as exc:
        raise InitError(f"cannot write {path}: {exc.strerror}", EX_CANTCREAT) from exc
    families, _ = load_families()
    try:
        problems = file_problems(load_config(candidate, families).settings)
    except ConfigError as exc:
        problems = exc.problems
    if problems:
        candidate.unlink()
        raise InitError("\n".join(problems))
    os.replace(candidate, path)


async def try_servers(config: Path) -> list[tuple[str, str | None]]:
    """Each server with None when it accepted the station's credentials, else why not."""
    families, _ = load_families()
    settings = load_config(config, families).settings
    tls = tls_context(settings.mqtt.tls)
    results: list[tuple[str, str | None]] = []
    for server in settings.mqtt.server_list():
        options = connection_options(settings.mqtt, tls, server)
        try:
            async with aiomqtt.Client(
                **options, identifier=settings.client_id, timeout=CONNECT_TIMEOUT_SECONDS
            ):
                results.append((str(server), None))
        except aiomqtt.MqttError as exc:
            results.append((str(server), explain_failure(str(exc))))
    return results


def station_init(args: argparse.Namespace) -> int:
    try:
        check_arguments(args)
        credentials = None
        if args.user is not None:
            credentials = args.credentials or args.config.with_name("mqtt-password")
            password = read_password(args)
            owner = _owner(args)
            credentials.parent.mkdir(parents=True, exist_ok=True)
            write_credentials(credentials, password, owner, args.force)
            print(f"wrote {credentials} (mode 0600)")
        try:
            write_config(args.config, render_config(args, credentials), args.force)
        except InitError:
            if credentials is not None and not args.force:
                with contextlib.suppress(OSError):
                    credentials.unlink()  # nothing half-done: the next run starts clean
            raise
        print(f"wrote {args.config} (checked)")
    except InitError as exc:
        print(str(exc), file=sys.stderr)
        return exc.status
    if args.no_connect:
        return 0
    results = asyncio.run(try_servers(args.config))
    for server, problem in results:
        print(f"{server}: {'connected' if problem is None else problem}")
    if all(problem is not None for _, problem in results):
        print("no server accepted the station; the files are written, fix and retry", file=sys.stderr)
        return EX_UNAVAILABLE
    return 0
