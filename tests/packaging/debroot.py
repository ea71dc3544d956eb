"""A throwaway Debian root for the package tests: a minimal bookworm made by mmdebstrap (cached as a
tarball under /var/cache, rebuilt when the package list changes), extracted per test, and commands run
inside it with chroot in a private mount namespace (its /proc and /dev vanish with the command, so a
failed test leaves no mount behind). systemd does not run in there: the maintainer scripts must cope."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path("/var/cache/passerelle-pkgtest")
SUITE = "bookworm"
# What a station has besides the package's own Depends: systemd (so systemd-sysusers and
# deb-systemd-helper run as on a real station). The package's Depends are resolved by dpkg, not here:
# anything missing from this list that the package needs makes `dpkg -i` fail the test.
LIBRARIES = ("python3", "python3.11", "libpcsclite1", "libgcc-s1", "libstdc++6")
WITH_SYSTEMD = (*LIBRARIES, "systemd", "init-system-helpers")
# A container image without systemd: the Depends alternative "adduser" makes the user instead.
WITHOUT_SYSTEMD = (*LIBRARIES, "adduser")
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
# Run inside a fresh mount namespace: mount what the programs need, then enter the root.
ENTER = 'mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"'
CLEAN_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"}


def root_tarball(include: tuple[str, ...]) -> Path:
    """The cached minimal root, made on first use (about 30 s with a reachable archive)."""
    key = hashlib.sha256(" ".join([SUITE, *include]).encode()).hexdigest()[:12]
    tarball = CACHE_DIR / f"{SUITE}-{key}.tar.zst"
    if tarball.exists():
        return tarball
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(".partial.tar.zst")
    command = ["mmdebstrap", "--quiet", "--variant=essential", f"--include={','.join(include)}", SUITE]
    command += [str(partial)]
    # The host's own archive configuration, when it has one: the same mirror apt already reaches.
    if HOST_SOURCES.exists():
        command.append(str(HOST_SOURCES))
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"mmdebstrap failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    partial.rename(tarball)
    return tarball


class DebianRoot:
    """One extracted root; ``path`` on the host, ``run`` inside it."""

    def __init__(self, workdir: Path, include: tuple[str, ...] = WITH_SYSTEMD) -> None:
        self.path = workdir / "root"
        self.path.mkdir(parents=True)
        subprocess.run(["tar", "-C", str(self.path), "--zstd", "-xf", str(root_tarball(include))], check=True)

    def inside(self, *command: str) -> list[str]:
        return ["unshare", "--mount", "sh", "-c", ENTER, str(self.path), *command]

    def run(
        self, *command: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.inside(*command), capture_output=True, text=True, timeout=timeout, env=CLEAN_ENV
        )
        if check:
            output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}:\n{output}"
        return result

    def start(self, *command: str, log: Path) -> subprocess.Popen[bytes]:
        """A long-running command inside the root; its pid is the command's own (no fork), so a
        signal sent to it reaches the program itself."""
        with log.open("ab") as output:
            return subprocess.Popen(
                self.inside(*command), stdout=output, stderr=subprocess.STDOUT, env=CLEAN_ENV
            )

    def host_path(self, path: str) -> Path:
        return self.path / path.lstrip("/")

    def install(self, deb: Path) -> subprocess.CompletedProcess[str]:
        shutil.copy(deb, self.host_path("/tmp") / deb.name)
        return self.run("dpkg", "-i", f"/tmp/{deb.name}")

    def installed_version(self) -> str:
        result = self.run("dpkg-query", "-W", "-f=${Status} ${Version}", "passerelle", check=False)
        return result.stdout.strip()

    def remove(self) -> None:
        if self.path.exists():
            shutil.rmtree(self.path)


def outbox_event_ids(database: Path) -> list[str]:
    """The rows of an outbox, read from a copy (database and WAL) so the reader never creates a -wal or
    -shm file that the service user could not open afterwards."""
    if not database.exists():
        return []
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / database.name
        shutil.copy(database, copy)
        wal = database.with_name(database.name + "-wal")
        if wal.exists():
            shutil.copy(wal, copy.with_name(copy.name + "-wal"))
        connection = sqlite3.connect(copy)
        try:
            return [row[0] for row in connection.execute("SELECT event_id FROM outbox ORDER BY seq")]
        except sqlite3.Error:
            return []  # caught mid-creation: the caller polls again
        finally:
            connection.close()


def stop(process: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM, then the exit status; a process that ignores it fails the test after ``timeout``."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError(f"no exit within {timeout} s of SIGTERM") from None


async def wait_for(
    what: str, predicate: Callable[[], bool], timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Polls ``predicate()`` until true; fails early if ``process`` has exited meanwhile."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.1)


def build_package(out_dir: Path, version: str | None = None) -> Path:
    """``bash scripts/package.sh`` with gzip (lintian-readable, seconds instead of xz's minute)."""
    env = {**os.environ, "PASSERELLE_PKG_OUT": str(out_dir), "PASSERELLE_PKG_COMPRESSION": "gzip"}
    if version is not None:
        env["PASSERELLE_PKG_VERSION"] = version
    result = subprocess.run(
        ["bash", "scripts/package.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"package.sh failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return ROOT / result.stdout.strip().splitlines()[-1]
