"""``passerelle doctor``: is this workstation ready? Each failure comes with the command that fixes it."""

from __future__ import annotations

import os
from pathlib import Path

from daemon.broker import port_open
from daemon.config import ConfigError, check_config, load_config
from daemon.family import DoctorCheck, load_families


def _print(check: DoctorCheck) -> None:
    mark = "ok  " if check.ok else "FAIL"
    print(f"[{mark}] {check.name}: {check.detail}")
    if not check.ok and check.fix:
        print(f"       fix: {check.fix}")


def doctor(config_path: Path | None) -> int:
    checks = collect_checks(config_path)
    for check in checks:
        _print(check)
    failed = sum(1 for c in checks if not c.ok)
    print(f"{len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0


def collect_checks(config_path: Path | None) -> list[DoctorCheck]:
    """Every check, without printing (the web console shows them too)."""
    families, family_errors = load_families()
    checks: list[DoctorCheck] = []
    problems = check_config(config_path, families)
    checks.append(
        DoctorCheck(
            "configuration",
            not problems,
            "valid" if not problems else "; ".join(problems),
            "edit the file, then: passerelle config check",
        )
    )
    try:
        loaded = load_config(config_path, families)
    except ConfigError:
        loaded = None
    if loaded is not None:
        s = loaded.settings
        reachable = port_open(s.mqtt.host, s.mqtt.port)
        checks.append(
            DoctorCheck(
                "broker",
                reachable,
                f"{s.mqtt.host}:{s.mqtt.port} {'accepts connections' if reachable else 'unreachable'}",
                "apt-get install mosquitto && systemctl enable --now mosquitto (or set mqtt.host/port)",
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
