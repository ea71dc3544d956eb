"""``passerelle`` command line. Device families add their own commands through their plugin."""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import os
import signal
import sys
from collections.abc import Iterable
from pathlib import Path

from passerelle.daemon import __version__, station_init
from passerelle.daemon import scaffold as scaffold_module
from passerelle.daemon.config import EX_CONFIG, ConfigError, check_config, file_problems, load_config
from passerelle.daemon.family import CliCommands, load_families
from passerelle.daemon.logs import setup_logging
from passerelle.daemon.outbox import OutboxError
from passerelle.daemon.simulator_hooks import SIMULATOR_ENTRY_POINT_GROUP, SimulateCommands, load_simulators

EX_UNAVAILABLE = 69  # sysexits: `simulate X` when X's simulator is not installed
EX_CANTCREAT = 73
log = logging.getLogger("passerelle")


def _config_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="TOML file (default: $CONFIGURATION_DIRECTORY/config.toml, else /etc/passerelle/config.toml)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from passerelle.daemon.app import Daemon

    families, family_errors = load_families()
    try:
        config = load_config(args.config, families)
        # The same file checks as `config check`: a TLS file we cannot use would otherwise only fail
        # at each connection attempt, after READY, forever.
        if problems := file_problems(config.settings):
            raise ConfigError(problems)
    except ConfigError as exc:
        setup_logging()
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EX_CONFIG
    setup_logging(config.settings.logging.level, config.settings.logging.format)
    for lines in config.section_problems.values():
        for line in lines:
            log.error("configuration: %s (this family is disabled)", line)
    daemon = Daemon(config, families, family_errors)
    try:
        return run_until_signalled(daemon.run)
    except OutboxError as exc:
        log.critical("%s", exc)
        return EX_CANTCREAT


def run_until_signalled(main: object) -> int:
    """Run ``main(stop_event)``; SIGTERM/SIGINT start a graceful stop, a second one exits at once."""

    async def runner() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if stop.is_set():
                log.warning("second %s: exiting now", signal.Signals(signum).name)
                os._exit(1)
            log.info("%s received: stopping gracefully", signal.Signals(signum).name)
            stop.set()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, on_signal, signum)
        result: int = await main(stop)  # type: ignore[operator]
        return result

    return asyncio.run(runner())


def cmd_config_check(args: argparse.Namespace) -> int:
    families, _ = load_families()
    problems = check_config(args.config, families)
    for line in problems:
        print(line)
    if problems:
        return EX_CONFIG
    print("configuration is valid")
    return 0


def cmd_config_reference(args: argparse.Namespace) -> int:
    from passerelle.daemon.config_reference import reference, splice

    families, _ = load_families()
    generated = reference(families)
    if args.write is None:
        print(generated)
        return 0
    path: Path = args.write
    path.write_text(splice(path.read_text(), generated))
    print(f"updated the reference in {path}")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from passerelle.daemon.schema import asyncapi, dumps, event_schemas, main

    if args.write is not None:
        return main(["--write", str(args.write)])
    families, _ = load_families()
    print(dumps({"events": event_schemas(families), "asyncapi": asyncapi(families)}), end="")
    return 0


def cmd_outbox_damage(args: argparse.Namespace) -> int:
    from passerelle.daemon.outbox_damage import damage_command

    families, _ = load_families()
    try:
        config = load_config(args.config, families)
    except ConfigError as exc:
        for line in exc.problems:
            print(line, file=sys.stderr)
        return EX_CONFIG
    return damage_command(config.settings.outbox_path, args.action)


def cmd_tail(args: argparse.Namespace) -> int:
    from passerelle.daemon.tail import tail

    return tail(args)


def cmd_doctor(args: argparse.Namespace) -> int:
    from passerelle.daemon.doctor import doctor

    return doctor(args.config)


def cmd_outbox(args: argparse.Namespace) -> int:
    from passerelle.daemon.outbox_admin import cmd_outbox as outbox

    return outbox(args)


def cmd_demo(args: argparse.Namespace) -> int:
    from passerelle.daemon.demo import demo

    result: int = demo(args)
    return result


def cmd_web_url(args: argparse.Namespace) -> int:
    from passerelle.daemon.web.url import print_url

    return print_url(args.config)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="passerelle", description="Counter hardware as durable MQTT events."
    )
    parser.add_argument("--version", action="version", version=f"passerelle {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="run the daemon (what the systemd service does)")
    _config_arg(run)
    run.set_defaults(handler=cmd_run)

    demo = commands.add_parser(
        "demo", help="zero-setup demo: private broker, daemon, every simulator, live view"
    )
    _config_arg(demo)
    demo.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    demo.add_argument("--quiet", action="store_true", help="no live view of events")
    demo.set_defaults(handler=cmd_demo)

    tail = commands.add_parser("tail", help="subscribe and pretty-print what the daemon publishes")
    _config_arg(tail)
    tail.add_argument("--host", default=None)
    tail.add_argument("--port", type=int, default=None)
    tail.add_argument("--base", default=None, help="base topic (default from the configuration)")
    tail.add_argument("--family", action="append", default=None, help="only this family (repeatable)")
    tail.add_argument("--raw", action="store_true", help="print payloads as received")
    tail.add_argument("--count", type=int, default=None, help="exit after this many messages")
    tail.set_defaults(handler=cmd_tail)

    schema = commands.add_parser("schema", help="print JSON Schemas and the AsyncAPI document")
    schema.add_argument(
        "--write",
        type=Path,
        default=None,
        metavar="DIR",
        help="write docs/schema/*.json, asyncapi.yaml and the topic table of mqtt.md",
    )
    schema.set_defaults(handler=cmd_schema)

    config = commands.add_parser("config", help="configuration tools")
    config_commands = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_commands.add_parser(
        "check", help="validate; one 'dotted.path: message' line per problem, exit 78"
    )
    _config_arg(check)
    check.set_defaults(handler=cmd_config_check)
    ref = config_commands.add_parser("reference", help="print every option as a Markdown table")
    ref.add_argument(
        "--write", type=Path, default=None, metavar="FILE", help="update the reference block in FILE"
    )
    ref.set_defaults(handler=cmd_config_reference)

    doctor = commands.add_parser(
        "doctor", help="check broker, config, state directory, devices; say how to fix"
    )
    _config_arg(doctor)
    doctor.set_defaults(handler=cmd_doctor)

    damage = commands.add_parser(
        "outbox-damage", help="show or acknowledge outbox damage incidents (red in health until acknowledged)"
    )
    damage.add_argument("action", choices=["show", "ack"])
    _config_arg(damage)
    damage.set_defaults(handler=cmd_outbox_damage)

    station = commands.add_parser("station", help="workstation setup")
    station_commands = station.add_subparsers(dest="station_command", metavar="ACTION", required=True)
    init = station_commands.add_parser(
        "init", help="write a checked configuration and a 0600 credentials file, then try the connection"
    )
    station_init.add_arguments(init)
    init.set_defaults(handler=station_init.station_init)

    web = commands.add_parser("web", help="the browser console")
    web_commands = web.add_subparsers(dest="web_command", metavar="ACTION", required=True)
    url = web_commands.add_parser("url", help="print the console URL with its token")
    _config_arg(url)
    url.set_defaults(handler=cmd_web_url)

    outbox = commands.add_parser("outbox", help="list, retry or discard events in the outbox quarantine")
    outbox.add_argument("action", choices=["list", "retry", "discard"])
    outbox.add_argument("--seq", type=int, action="append", default=None, help="event number (repeatable)")
    outbox.add_argument("--all", action="store_true", help="every quarantined event")
    outbox.add_argument("--limit", type=int, default=100, help="list at most this many")
    _config_arg(outbox)
    outbox.set_defaults(handler=cmd_outbox)

    scaffold = commands.add_parser("scaffold", help="write a new device family's files")
    scaffold_module.add_arguments(scaffold)

    simulate = commands.add_parser("simulate", help="run a device simulator")
    simulate_commands = simulate.add_subparsers(dest="simulate_command", metavar="FAMILY", required=True)

    families, _ = load_families()
    for name, family in families.items():
        try:
            family.add_cli_commands(CliCommands(top=commands))
        except Exception as exc:  # one family's broken CLI must not break the others
            log.warning("commands of family %s unavailable: %s", name, exc)
    add_simulate_commands(simulate_commands, families)
    return parser


def add_simulate_commands(simulate: SimulateCommands, families: Iterable[str]) -> None:
    """``passerelle simulate <family>`` from each installed simulator; for a family without one (not
    installed, or failing to load), a command that says so instead of argparse's "invalid choice"."""
    simulators, errors = load_simulators()
    unavailable = {error.name: error.reason for error in errors}
    for name, hooks in simulators.items():
        try:
            hooks.add_simulate_commands(simulate)
        except Exception as exc:  # one simulator's broken CLI must not break the others
            log.warning("simulate commands of %s unavailable: %s", name, exc)
            unavailable[name] = f"{type(exc).__name__}: {exc}"
    for name in sorted({*families, *unavailable}):
        if name in simulate.choices:
            continue
        # No help=: not listed in `simulate --help`, whose list is what can actually be simulated.
        missing = simulate.add_parser(name, add_help=False)
        missing.set_defaults(
            handler=functools.partial(_simulator_missing, name, unavailable.get(name)), any_arguments=True
        )


def _simulator_missing(family: str, reason: str | None, args: argparse.Namespace) -> int:
    del args
    if reason is None:
        why = f"is not installed (no {family!r} entry point in the {SIMULATOR_ENTRY_POINT_GROUP} group)"
    else:
        why = f"is unavailable: {reason}"
    print(f"passerelle simulate {family}: the {family} simulator package {why}", file=sys.stderr)
    return EX_UNAVAILABLE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # parse_known_args + the same error as parse_args, so that `simulate X …` for a missing simulator
    # reaches its message whatever X's options would have been.
    args, extras = parser.parse_known_args(argv)
    if extras and not getattr(args, "any_arguments", False):
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
