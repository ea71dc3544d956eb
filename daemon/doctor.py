"""``passerelle doctor``: is this workstation ready? Each failure comes with the command that fixes it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from passerelle.daemon.broker import port_open
from passerelle.daemon.config import ConfigError, LoadedConfig, check_config, load_config
from passerelle.daemon.family import DoctorCheck, Family, FamilyLoadError, load_families
from passerelle.daemon.simulator_hooks import load_simulators, simulator_checks


def _print(check: DoctorCheck) -> None:
    mark = "ok  " if check.ok else "FAIL"
    print(f"[{mark}] {check.name}: {check.detail}")
    if not check.ok and check.fix:
        print(f"       fix: {check.fix}")


def doctor(config_path: Path | None) -> int:
    checks = run_checks(config_path)
    for check in checks:
        _print(check)
    failed = sum(1 for c in checks if not c.ok)
    print(f"{len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0


def run_checks(config_path: Path | None) -> list[DoctorCheck]:
    """Every check, for the file at ``config_path`` (what ``passerelle doctor`` prints)."""
    families, family_errors = load_families()
    problems = check_config(config_path, families)
    try:
        loaded = load_config(config_path, families)
    except ConfigError:
        loaded = None
    return checks_for(loaded, problems, families, family_errors)


def checks_for(
    loaded: LoadedConfig | None,
    problems: list[str],
    families: Mapping[str, Family],
    family_errors: list[FamilyLoadError],
) -> list[DoctorCheck]:
    """The checks of a configuration already loaded (the daemon's ``doctor`` request runs them on its
    own configuration; blocking: run it in a thread)."""
    checks = [
        DoctorCheck(
            "configuration",
            not problems,
            "valid" if not problems else "; ".join(problems),
            "edit the file, then: passerelle config check",
        )
    ]
    if loaded is not None:
        s = loaded.settings
        for server in s.mqtt.server_list():
            reachable = port_open(server.host, server.port)
            checks.append(
                DoctorCheck(
                    "broker",
                    reachable,
                    f"{server} {'accepts connections' if reachable else 'unreachable'}",
                    "apt-get install mosquitto && systemctl enable --now mosquitto (or set mqtt.servers)",
                )
            )
        checks.append(_state_dir_check(s.outbox_path.parent))
    for error in family_errors:
        checks.append(DoctorCheck(f"{error.name} family", False, error.reason, "bash scripts/setup.sh"))
    for name, family in families.items():
        section = loaded.sections.get(name) if loaded is not None else None
        try:
            checks.extend(family.doctor(section))
        except Exception as exc:  # a family check must not hide the others
            checks.append(DoctorCheck(f"{name} family", False, f"check failed: {exc}"))
    checks.extend(simulator_checks(*load_simulators()))
    return checks


def _state_dir_check(directory: Path) -> DoctorCheck:
    """Writable, or creatable by us: checked without creating anything (doctor only looks)."""
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    user = os.environ.get("USER", "passerelle")
    fix = f"install -d -o {user} -m 0700 {directory} (the service unit's StateDirectory= does this)"
    if not existing.is_dir():
        return DoctorCheck("state directory", False, f"{existing} is not a directory", fix)
    if not os.access(existing, os.W_OK | os.X_OK):
        return DoctorCheck("state directory", False, f"{existing} is not writable by this user", fix)
    if existing == directory:
        return DoctorCheck("state directory", True, f"{directory} is writable")
    return DoctorCheck("state directory", True, f"{directory} does not exist yet; it will be created")
