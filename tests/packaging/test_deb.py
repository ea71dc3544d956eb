"""The Debian package, built by scripts/package.sh and installed, upgraded, removed and purged with the
real dpkg in a throwaway bookworm root: files, users, the unit's enablement, the bundled environment
on Debian's python3, a conffile that keeps the administrator's edit, and an outbox that survives the
upgrade and is then published by the new version. lintian must report no error."""

from __future__ import annotations

import stat
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from passerelle.daemon.broker import PrivateBroker, free_port
from passerelle.testing.support import base_config, collect, to_toml
from tests.packaging.debroot import (
    ROOT,
    WITHOUT_SYSTEMD,
    DebianRoot,
    build_package,
    outbox_event_ids,
    stop,
    wait_for,
)

pytestmark = pytest.mark.timeout(900)

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
UPGRADE_VERSION = f"{PROJECT['version']}+pkgtest2"
PENDING_EVENTS = 40
OUTBOX = "/var/lib/passerelle/outbox.sqlite3"
SHIPPED = [
    "/lib/systemd/system/passerelle.service",
    "/usr/lib/sysusers.d/passerelle.conf",
    "/usr/lib/tmpfiles.d/passerelle.conf",
    "/usr/share/polkit-1/rules.d/60-passerelle-pcsc.rules",
    "/usr/share/passerelle/udev/70-passerelle-scanners.rules.in",
    "/etc/passerelle/config.toml",
    "/usr/share/doc/passerelle/copyright",
    *(f"/usr/bin/{script}" for script in PROJECT["scripts"]),
]


@dataclass(frozen=True)
class Builds:
    first: Path
    upgrade: Path


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> Builds:
    """The build of pyproject's version and the next one (same code, a higher version): the second
    reuses the first's cached environment."""
    out = tmp_path_factory.mktemp("dist")
    return Builds(build_package(out), build_package(out, UPGRADE_VERSION))


@pytest.fixture
def debian_root(tmp_path: Path) -> Iterator[DebianRoot]:
    root = DebianRoot(tmp_path)
    try:
        yield root
    finally:
        root.remove()


def test_package_name_and_control_follow_pyproject(builds: Builds) -> None:
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()
    assert builds.first.name == f"passerelle_{PROJECT['version']}_{arch}.deb"
    assert builds.upgrade.name == f"passerelle_{UPGRADE_VERSION}_{arch}.deb"
    control = subprocess.run(["dpkg-deb", "-f", str(builds.first)], capture_output=True, text=True).stdout
    depends = next(line for line in control.splitlines() if line.startswith("Depends:"))
    # The bundled venv runs on the exact interpreter it was built with, and pyscard dlopen()s pcsc-lite.
    assert "python3.11" in depends and "libpcsclite1" in depends
    conffiles = subprocess.run(
        ["dpkg-deb", "--ctrl-tarfile", str(builds.first)], capture_output=True, check=True
    ).stdout
    assert b"conffiles" in conffiles


def test_lintian_reports_no_error(builds: Builds) -> None:
    result = subprocess.run(
        ["lintian", "--allow-root", "--fail-on", "error", "--tag-display-limit", "0", str(builds.first)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    errors = [line for line in result.stdout.splitlines() if line.startswith("E:")]
    assert result.returncode == 0 and not errors, result.stdout + result.stderr
    print("lintian:", result.stdout or "clean")


def _installed_as_a_station_expects(root: DebianRoot, version: str) -> None:
    assert root.installed_version() == f"install ok installed {version}"
    for path in SHIPPED:
        assert root.host_path(path).exists(), path
    # The venv's interpreter is the root's own Debian python, not the build machine's.
    assert str(root.host_path("/usr/lib/passerelle/bin/python").readlink()).startswith("/usr/bin/python3.")
    assert root.run("passerelle", "--version").stdout.strip() == f"passerelle {PROJECT['version']}"
    root.run("passerelle", "config", "check", "--config", "/etc/passerelle/config.toml")
    # The postinst compiled the bytecode the read-only service cannot write.
    assert any(root.host_path("/usr/lib/passerelle/lib").rglob("__pycache__"))

    groups = root.run("id", "-nG", "passerelle").stdout.split()
    assert {"passerelle", "passerelle-scanner", "dialout"} <= set(groups)
    assert "nologin" in root.run("getent", "passwd", "passerelle").stdout
    state = root.host_path("/var/lib/passerelle").stat()
    assert stat.S_IMODE(state.st_mode) == 0o700
    assert root.run("stat", "-c", "%U", "/var/lib/passerelle").stdout.strip() == "passerelle"
    assert root.run("stat", "-c", "%a %U:%G", "/etc/passerelle/config.toml").stdout.strip() == (
        "640 root:passerelle"
    )
    conffiles = root.run("dpkg-query", "-W", "-f=${Conffiles}", "passerelle").stdout
    assert "/etc/passerelle/config.toml" in conffiles
    # Enabled as debhelper would, though nothing starts: there is no running systemd in a chroot.
    assert root.host_path("/etc/systemd/system/multi-user.target.wants/passerelle.service").is_symlink()


def _write_run_config(root: DebianRoot, broker_port: int, pending: int) -> str:
    synthetic = (
        {"devices": [{"id": "pkgtest", "rate": 0, "count": pending}]} if pending else {"enabled": False}
    )
    config = base_config(broker_port, Path("/var/lib/passerelle"), station="pkgtest", synthetic=synthetic)
    config["mqtt"]["reconnect_max_seconds"] = 0.5
    path = "/tmp/pkgtest.toml"
    root.host_path(path).write_text(to_toml(config))
    return path


def _run_as_service_user(root: DebianRoot, config: str, log: Path) -> subprocess.Popen[bytes]:
    return root.start(
        "setpriv", "--reuid=passerelle", "--regid=passerelle", "--init-groups",
        "passerelle", "run", "--config", config, log=log,
    )  # fmt: skip


async def test_install_upgrade_keeps_the_outbox_then_purge_removes_it(
    builds: Builds, debian_root: DebianRoot, tmp_path: Path
) -> None:
    root = debian_root
    root.install(builds.first)
    _installed_as_a_station_expects(root, PROJECT["version"])

    # Events accepted while the broker is unreachable wait in the outbox, as on a station whose
    # network is down when the package is upgraded.
    unreachable = free_port()
    daemon = _run_as_service_user(
        root, _write_run_config(root, unreachable, PENDING_EVENTS), tmp_path / "1.log"
    )
    outbox = root.host_path(OUTBOX)
    await wait_for(
        f"{PENDING_EVENTS} events in the outbox",
        lambda: len(outbox_event_ids(outbox)) == PENDING_EVENTS,
        timeout=60,
        process=daemon,
    )
    assert stop(daemon) == 0, (tmp_path / "1.log").read_text()[-3000:]
    pending = outbox_event_ids(outbox)
    assert len(set(pending)) == PENDING_EVENTS

    config = root.host_path("/etc/passerelle/config.toml")
    config.write_text(config.read_text() + "\n# the administrator's edit\n")

    root.install(builds.upgrade)
    _installed_as_a_station_expects(root, UPGRADE_VERSION)
    assert outbox_event_ids(outbox) == pending
    assert "# the administrator's edit" in config.read_text()

    # The new version opens the old outbox and delivers every pending event once a broker answers.
    with PrivateBroker() as broker:
        async with collect(broker.host, broker.port, "passerelle/pkgtest/#") as collector:
            daemon = _run_as_service_user(root, _write_run_config(root, broker.port, 0), tmp_path / "2.log")
            delivered = lambda: {e["event_id"] for e in collector.events()} >= set(pending)  # noqa: E731
            await wait_for("the pending events on the broker", delivered, timeout=60, process=daemon)
            await wait_for(
                "an empty outbox", lambda: not outbox_event_ids(outbox), timeout=30, process=daemon
            )
            assert stop(daemon) == 0, (tmp_path / "2.log").read_text()[-3000:]

    # remove keeps the configuration and the state; only purge deletes them.
    root.run("dpkg", "--remove", "passerelle")
    assert not root.host_path("/usr/lib/passerelle").exists(), "bytecode or files left after remove"
    assert not root.host_path("/usr/bin/passerelle").exists()
    assert config.exists() and root.host_path("/var/lib/passerelle").is_dir()
    purge = root.run("dpkg", "--purge", "passerelle")
    assert "purge deletes /var/lib/passerelle" in purge.stdout + purge.stderr
    assert not root.host_path("/var/lib/passerelle").exists()
    assert not root.host_path("/etc/passerelle").exists()
    assert root.installed_version() in ("", "unknown ok not-installed")
    assert not root.host_path("/etc/systemd/system/multi-user.target.wants/passerelle.service").exists()


def test_without_systemd_the_postinst_makes_the_user_with_adduser(builds: Builds, tmp_path: Path) -> None:
    root = DebianRoot(tmp_path, include=WITHOUT_SYSTEMD)
    try:
        assert not root.host_path("/usr/bin/systemd-sysusers").exists()
        root.install(builds.first)
        groups = root.run("id", "-nG", "passerelle").stdout.split()
        assert {"passerelle", "passerelle-scanner", "dialout"} <= set(groups)
        assert root.run("stat", "-c", "%a %U", "/var/lib/passerelle").stdout.strip() == "700 passerelle"
        assert root.run("passerelle", "--version").stdout.strip() == f"passerelle {PROJECT['version']}"
        root.run("dpkg", "--purge", "passerelle")
        assert not root.host_path("/var/lib/passerelle").exists()
    finally:
        root.remove()
